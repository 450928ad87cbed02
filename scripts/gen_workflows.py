"""Write the copy-ready workflow templates from the reusable workflows they share jobs with.

The jobs live once, in `.github/workflows/<source>` (``on: workflow_call``, typed inputs). A
template is that file with its own triggers and concurrency instead of ``workflow_call``, and
each ``${{ inputs.NAME }}`` replaced by the input's default, so a user can copy one file and
edit plain values. The examples get identical copies. ``--check`` exits 1 when any is stale.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import generated_files
import yaml

ROOT = generated_files.ROOT
REUSABLE = ROOT / ".github" / "workflows"
TEMPLATES = ROOT / "workflows"
EXAMPLES = ("penguins", "diabetes")

PATHS = """\
    paths:
      - 'data/**'
      - 'src/**'
      - '**.py'
      - 'mlops.yaml'
      - 'schema.yaml'
      - 'requirements*.txt'
      - '.github/workflows/ml-*.yml'
"""


@dataclass(frozen=True)
class Template:
    name: str
    source: str
    about: str
    triggers: str


TEMPLATE_LIST = (
    Template(
        "ml-pull-request",
        "ml-pull-request.yml",
        "On a pull request that touches data, code or config: validate the data (diff against the\n"
        "base branch), train, gate against the production model, one sticky comment with the diffs.",
        "on:\n  pull_request:\n" + PATHS + "\n"
        "concurrency:\n  group: ml-pull-request-${{ github.event.pull_request.number }}\n"
        "  cancel-in-progress: true\n",
    ),
    Template(
        "ml-pr-report",
        "ml-pr-report.yml",
        "When ml-pull-request.yml's run completes: post its packed report as the pull request's\n"
        "sticky comment and gate status, also for pull requests from forks (read-only tokens).",
        "on:\n"
        "  # zizmor reports every workflow_run trigger (dangerous-triggers): the run holds a write\n"
        "  # token while a pull request, maybe from a fork, set off the run it follows. This one is\n"
        "  # the pattern that makes that safe: it runs only the default branch's files, never the\n"
        "  # pull request's code, and reads the pull request run's artifact as untrusted data\n"
        "  # (size-capped, markdown only, its PR number checked against the run's head commit).\n"
        "  # Why: mlops-actions docs/actions.md#fork-pull-requests.\n"
        "  workflow_run: # zizmor: ignore[dangerous-triggers]\n"
        "    workflows: [ml-pull-request] # the `name:` of ml-pull-request.yml\n"
        "    types: [completed]\n",
    ),
    Template(
        "ml-release",
        "ml-release.yml",
        "On a push to main: validate, train, gate, package to ONNX, deploy to staging, then promote\n"
        "to production in a job with `environment: production` (add required reviewers there).",
        "on:\n  push:\n    branches: [main]\n" + PATHS + "  workflow_dispatch:\n\n"
        "concurrency:\n  group: mlops-train-deploy # shared with ml-retrain.yml: one training run at a time\n"
        "  cancel-in-progress: false\n",
    ),
    Template(
        "ml-retrain",
        "ml-release.yml",
        "Continuous training: retrain on the data the config names, gate, package and deploy, when\n"
        "drift-check reports drift, a data pipeline or the application's repository asks for it\n"
        "(repository_dispatch), every week, or by hand.",
        "on:\n  repository_dispatch:\n    types: [drift-detected, data-updated, app-updated]\n"
        "  schedule:\n    - cron: '23 4 * * 1' # calendar retraining every Monday; delete these two lines to stop it\n"
        "  workflow_dispatch:\n\n"
        "concurrency:\n  group: mlops-train-deploy # shared with ml-release.yml: one training run at a time\n"
        "  cancel-in-progress: false\n",
    ),
    Template(
        "ml-rollback",
        "ml-rollback.yml",
        "By hand, when production misbehaves: move the production alias back to the version it\n"
        "pointed at before, after the `production` environment's reviewers approve.",
        "on:\n  workflow_dispatch:\n",
    ),
    Template(
        "ml-drift-check",
        "ml-drift-check.yml",
        "Continuous monitoring: every day (and by hand) compare current data with the production\n"
        "model's training reference; on drift, start ml-retrain.yml and keep one alert issue.",
        "on:\n  schedule:\n    - cron: '17 6 * * *'\n  workflow_dispatch:\n",
    ),
)

_ON_BLOCK = re.compile(r"^on:\n(?:(?:[ \t]+.*)?\n)*?(?=^\S)", re.MULTILINE)
_INPUT = re.compile(r"\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}")


def _yaml_scalar(value: object) -> str:
    text = yaml.safe_dump(value, default_style=None, width=1000).strip()
    return text.removesuffix("\n...").strip()


def render(template: Template, source_text: str) -> str:
    """The copy-ready workflow for ``template`` from its reusable workflow's text."""
    source = yaml.safe_load(source_text)
    inputs = source[True]["workflow_call"]["inputs"]  # PyYAML reads the key `on` as True
    body = source_text[source_text.index("\nname:") + 1 :]
    body = re.sub(r"^name: .*$", f"name: {template.name}", body, count=1, flags=re.MULTILINE)
    body, count = _ON_BLOCK.subn(template.triggers + "\n", body, count=1)
    if count != 1:
        raise SystemExit(f".github/workflows/{template.source}: no top-level `on:` block found")

    def default(match: re.Match[str], *, whole: bool) -> str:
        name = match.group(1)
        if name not in inputs:
            raise SystemExit(
                f".github/workflows/{template.source}: inputs.{name} is not a declared input"
            )
        value = inputs[name].get("default", "")
        return _yaml_scalar(str(value)) if whole else str(value)

    lines = []
    for line in body.splitlines(keepends=True):
        key, sep, value = line.partition(": ")
        if sep and _INPUT.fullmatch(value.strip()) and "#" not in value:
            line = f"{key}: {default(_INPUT.fullmatch(value.strip()), whole=True)}\n"
        else:
            line = _INPUT.sub(lambda m: default(m, whole=False), line)
        lines.append(line)
    body = "".join(lines)
    about = "".join(f"# {row}\n" for row in template.about.splitlines())
    header = (
        f"{about}# Copy into your repository's .github/workflows/ and replace OWNER with the owner of\n"
        f"# mlops-actions. Generated from .github/workflows/{template.source} by scripts/gen_workflows.py.\n"
    )
    return header + body


def outputs() -> dict[Path, str]:
    """Every generated file and the text it must have."""
    files = {}
    for template in TEMPLATE_LIST:
        text = render(template, (REUSABLE / template.source).read_text(encoding="utf-8"))
        files[TEMPLATES / f"{template.name}.yml"] = text
        for example in EXAMPLES:
            files[
                ROOT / "examples" / example / ".github" / "workflows" / f"{template.name}.yml"
            ] = text
    return files


if __name__ == "__main__":
    sys.exit(generated_files.main(__doc__, outputs))
