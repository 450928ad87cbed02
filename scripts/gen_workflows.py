"""Write the copy-ready workflow templates from the reusable workflows they share jobs with
(how: ``mlops_actions.workflow_templates``). The examples get identical copies, and the package
the sources and this list, for ``mlops init``. ``--check`` exits 1 when any is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import generated_files

from mlops_actions.workflow_templates import (
    MANIFEST,
    OPT_IN,
    SOURCES,
    Template,
    manifest_json,
    render,
)

ROOT = generated_files.ROOT
REUSABLE = ROOT / ".github" / "workflows"
TEMPLATES = ROOT / "workflows"
EXAMPLES = ("penguins", "diabetes")
PACKAGED = ROOT / "src" / "mlops_actions" / "workflow_templates"  # for `mlops init`

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
        "ml-tune",
        "ml-tune.yml",
        "By hand: train every trial of tune in mlops.yaml on its own runner (a matrix), pick the\n"
        "champion on the same test rows, gate it against production and package it; every trial\n"
        "and the champion are in the run's summary and its mlops-outputs artifact.",
        "on:\n  workflow_dispatch:\n\n"
        "concurrency:\n  group: ml-tune\n  cancel-in-progress: false\n",
    ),
    Template(
        "ml-drift-check",
        "ml-drift-check.yml",
        "Continuous monitoring: every day (and by hand) compare current data with the production\n"
        "model's training reference; on drift, start ml-retrain.yml and keep one alert issue.",
        "on:\n  schedule:\n    - cron: '17 6 * * *'\n  workflow_dispatch:\n",
    ),
    Template(
        "ml-data-watch",
        "ml-data-watch.yml",
        "Training data outside git: every night (and by hand) compare data.source with what the\n"
        "newest registry version was trained on; on a change, start ml-retrain.yml once.",
        "on:\n  schedule:\n    - cron: '47 5 * * *'\n  workflow_dispatch:\n",
    ),
)


def outputs() -> dict[Path, str]:
    """Every generated file and the text it must have."""
    files = {}
    for template in TEMPLATE_LIST:
        source_text = (REUSABLE / template.source).read_text(encoding="utf-8")
        text = render(template, source_text)
        files[TEMPLATES / f"{template.name}.yml"] = text
        files[PACKAGED / SOURCES / template.source] = source_text
        for example in EXAMPLES if template.name not in OPT_IN else ():
            files[
                ROOT / "examples" / example / ".github" / "workflows" / f"{template.name}.yml"
            ] = text
    files[PACKAGED / MANIFEST] = manifest_json(list(TEMPLATE_LIST))
    return files


if __name__ == "__main__":
    sys.exit(generated_files.main(__doc__, outputs))
