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


MULTI_MODEL = TEMPLATES / "multi-model"
"""Templates for a repository with many models: discovery, then a matrix calling the reusables."""

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"


def _triggers(name: str) -> str:
    return next(t.triggers for t in TEMPLATE_LIST if t.name == name)


def _discovery(selection: str, env: str, *, full_history: bool) -> str:
    """The job listing the models this run is for (``mlops models``, its matrix and count)."""
    depth = "\n          fetch-depth: 0 # what changed, from the history" if full_history else ""
    env_block = f"        env:\n{env}\n" if env else ""
    return f"""\
  models:
    name: models to run
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      contents: read
    outputs:
      matrix: ${{{{ steps.models.outputs.matrix }}}}
      count: ${{{{ steps.models.outputs.count }}}}
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false{depth}
      - uses: OWNER/mlops-actions/actions/setup@v1
        with:
          cache: restore-only
      - id: models
        shell: bash
{env_block}        run: |
{selection}"""


def _matrix_call(job: str, name: str, source: str, permissions: str, extra: str = "") -> str:
    """One call of reusable ``source`` per model of the discovery job's matrix."""
    return f"""\
  {job}:
    name: {name}
    needs: models
    if: needs.models.outputs.count != '0' # an empty matrix is an error on GitHub
    strategy:
      fail-fast: false # one model's failure does not stop the others
      matrix: ${{{{ fromJSON(needs.models.outputs.matrix) }}}}
    permissions:
{permissions}    uses: OWNER/mlops-actions/.github/workflows/{source}@v1
    with:
      config: ${{{{ matrix.config }}}}
      working-directory: ${{{{ matrix.folder }}}}
      model-suffix: -${{{{ matrix.name }}}} # its artifacts and deploy queues apart from the others'
{extra}"""


_ALL_MODELS = "          mlops models\n"
_NAMED_OR_ALL = """\
          if [ -n "$MODEL" ]; then
            mlops models --name "$MODEL" # a dispatch or a hand-run for one model
          else
            mlops models
          fi
"""
_RELEASE_WRITE = "      contents: write # the github:// registry\n      deployments: write\n"
MULTI_TEMPLATE_LIST = (
    (
        "ml-pull-request",
        "On a pull request: the models it can affect (their config, data, schema or code\n"
        "changed), each validated, trained and gated against its production model; models it\n"
        "does not touch do not run.",
        "on:\n  pull_request:\n\n"
        "concurrency:\n  group: ml-pull-request-${{ github.event.pull_request.number }}\n"
        "  cancel-in-progress: true\n",
        _discovery(
            '          mlops models --changed-since "$BASE_SHA"\n',
            "          BASE_SHA: ${{ github.event.pull_request.base.sha }}",
            full_history=True,
        )
        + "\n"
        + _matrix_call(
            "checks", "validate, train, gate", "ml-pull-request.yml", "      contents: read\n"
        ),
    ),
    (
        "ml-pr-report",
        "When ml-pull-request.yml's run completes: one sticky comment with a section per model\n"
        "it ran, the status 'mlops/gate: <model>' of each and 'mlops/gate' over them all (the\n"
        "one check to require in branch protection), also for pull requests from forks.",
        _triggers("ml-pr-report"),
        """\
  report:
    name: comment and gate statuses
    permissions:
      actions: read # the pull request run's artifacts
      contents: read
      pull-requests: write # the sticky comment
      statuses: write # the gate statuses
    uses: OWNER/mlops-actions/.github/workflows/ml-pr-report.yml@v1
    with:
      models: true
""",
    ),
    (
        "ml-release",
        "On a push to main: the models the push changed, each trained, gated, packaged, deployed\n"
        "to staging and promoted to production behind the `production` environment's reviewers;\n"
        "by hand (Run workflow): every model, or the one named.",
        "on:\n  push:\n    branches: [main]\n  workflow_dispatch:\n    inputs:\n"
        "      model:\n        description: The model to release (empty for all).\n"
        "        type: string\n        default: ''\n\n"
        "concurrency:\n  group: mlops-train-deploy # shared with ml-retrain.yml: one training run at a time\n"
        "  cancel-in-progress: false\n",
        _discovery(
            """\
          if [ -n "$MODEL" ]; then
            mlops models --name "$MODEL"
          elif [ "$EVENT" = push ] && git cat-file -e "$BEFORE^{commit}" 2>/dev/null; then
            mlops models --changed-since "$BEFORE"
          else
            mlops models # a new branch, history rewritten, or by hand: every model
          fi
""",
            "          EVENT: ${{ github.event_name }}\n"
            "          BEFORE: ${{ github.event.before }}\n"
            "          MODEL: ${{ inputs.model }}",
            full_history=True,
        )
        + "\n"
        + _matrix_call("release", "release", "ml-release.yml", _RELEASE_WRITE),
    ),
    (
        "ml-retrain",
        "Continuous training: retrain, gate, package and deploy the model a drift-detected or\n"
        "data-updated dispatch names (every model for an app-updated one), every model each week,\n"
        "or by hand.",
        "on:\n  repository_dispatch:\n    types: [drift-detected, data-updated, app-updated]\n"
        "  schedule:\n    - cron: '23 4 * * 1' # calendar retraining every Monday; delete these two lines to stop it\n"
        "  workflow_dispatch:\n    inputs:\n"
        "      model:\n        description: The model to retrain (empty for all).\n"
        "        type: string\n        default: ''\n\n"
        "concurrency:\n  group: mlops-train-deploy # shared with ml-release.yml: one training run at a time\n"
        "  cancel-in-progress: false\n",
        _discovery(
            _NAMED_OR_ALL,
            "          MODEL: ${{ github.event.client_payload.model || inputs.model }}",
            full_history=False,
        )
        + "\n"
        + _matrix_call("retrain", "retrain", "ml-release.yml", _RELEASE_WRITE),
    ),
    (
        "ml-rollback",
        "By hand, when a model's production version misbehaves: move its production alias back\n"
        "to the version it pointed at before, after the `production` environment's reviewers\n"
        "approve.",
        "on:\n  workflow_dispatch:\n    inputs:\n"
        "      model:\n        description: The model to roll back (its name in mlops.yaml).\n"
        "        type: string\n        required: true\n",
        _discovery(
            '          mlops models --name "$MODEL"\n',
            "          MODEL: ${{ inputs.model }}",
            full_history=False,
        )
        + "\n"
        + _matrix_call("rollback", "roll back", "ml-rollback.yml", _RELEASE_WRITE),
    ),
    (
        "ml-data-watch",
        "Every day (and by hand): for each model whose training data lives outside git\n"
        "(data.source), compare the store's listing with the one its newest version was trained\n"
        "on; on a change, one data-updated dispatch naming the model (ml-retrain.yml retrains it).",
        _triggers("ml-data-watch"),
        _discovery("          mlops models --with-data-source\n", "", full_history=False)
        + "\n"
        + _matrix_call(
            "watch",
            "data watch",
            "ml-data-watch.yml",
            "      contents: write # the data-updated dispatch; the registry's audit entry\n",
        ),
    ),
    (
        "ml-drift-check",
        "Continuous monitoring: every day (and by hand) each model's current data against its\n"
        "production reference; on drift, a drift-detected dispatch naming the model\n"
        "(ml-retrain.yml retrains that one) and one alert issue per model.",
        _triggers("ml-drift-check"),
        _discovery(_ALL_MODELS, "", full_history=False)
        + "\n"
        + _matrix_call(
            "drift",
            "drift check",
            "ml-drift-check.yml",
            "      contents: write # the alert job's repository_dispatch\n"
            "      issues: write # the alert issue\n",
        ),
    ),
)


def multi_model_template(name: str, about: str, triggers: str, jobs: str) -> str:
    header = "".join(f"# {row}\n" for row in about.splitlines())
    return (
        f"{header}# Copy into your repository's .github/workflows/ (with the other multi-model\n"
        "# templates) and replace OWNER with the owner of mlops-actions. Every folder with an\n"
        "# mlops.yaml is a model (`mlops models` lists them). Generated by scripts/gen_workflows.py.\n"
        f"name: {name}\n\n{triggers}\npermissions: {{}}\n\njobs:\n{jobs}"
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
    for name, about, triggers, jobs in MULTI_TEMPLATE_LIST:
        files[MULTI_MODEL / f"{name}.yml"] = multi_model_template(name, about, triggers, jobs)
    return files


if __name__ == "__main__":
    sys.exit(generated_files.main(__doc__, outputs))
