"""mlops models (issue 17 part 2): every model of a repository as a workflow matrix, and with
--changed-since only those whose config, data, schema or factory code a change touches, read
from each config rather than guessed from folder names."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops_actions import discovery
from mlops_actions.cli import main

CONFIG = """\
name: {name}
task: classification
data: {{train: {train}, target: y{extra}}}
model: {model}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def write(repo: Path, path: str, text: str = "x\n") -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


@pytest.fixture
def repo(tmp_path) -> Path:
    """Three models: two read one shared file, the third its own folder of files and a factory."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "a@b.c")
    git(repo, "config", "user.name", "A")
    estimator = "{estimator: sklearn.linear_model.LogisticRegression}"
    write(repo, "shared/customers.csv")
    write(
        repo,
        "churn/mlops.yaml",
        CONFIG.format(name="churn", train="../shared/customers.csv", extra="", model=estimator),
    )
    write(
        repo,
        "upsell/mlops.yaml",
        CONFIG.format(
            name="upsell",
            train="../shared/customers.csv",
            extra=", schema: schema.yaml",
            model=estimator,
        ),
    )
    write(repo, "upsell/schema.yaml")
    write(
        repo,
        "fraud/mlops.yaml",
        CONFIG.format(
            name="fraud", train="'data/*.csv'", extra="", model="{factory: 'models.fraud:build'}"
        ),
    )
    write(repo, "fraud/data/2026-11.csv")
    write(repo, "fraud/models/fraud/__init__.py", "def build():\n    pass\n")  # a package
    write(repo, "README.md")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "three models")
    return repo


def names(repo: Path, *args: str) -> list[str]:
    models = discovery.discover(repo)
    if args:
        models = discovery.affected(models, discovery.changed_since(repo, args[0]))
    return [m.name for m in models]


def test_every_model_with_what_it_reads(repo):
    models = {m.name: m for m in discovery.discover(repo)}
    assert sorted(models) == ["churn", "fraud", "upsell"]
    assert models["upsell"].reads == (
        "shared/customers.csv",
        "upsell/mlops.yaml",
        "upsell/schema.yaml",
    )
    assert models["fraud"].reads == (
        "fraud/data/*.csv",
        "fraud/mlops.yaml",
        "fraud/models/fraud",
    )
    assert json.loads(discovery.matrix_json(list(models.values())))["include"][0] == {
        "name": "churn",
        "config": "mlops.yaml",
        "folder": "churn",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("shared/customers.csv", ["churn", "upsell"]),  # one shared file, the two that read it
        ("upsell/schema.yaml", ["upsell"]),
        ("fraud/models/fraud/features.py", ["fraud"]),  # factory code, a module of its package
        ("fraud/data/2026-12.csv", ["fraud"]),  # a new file the glob takes in, not yet committed
        ("churn/mlops.yaml", ["churn"]),
        ("README.md", []),
        ("churn/notes.txt", []),  # in the folder, but not read by the model
    ],
)
def test_only_the_models_a_change_touches(repo, change, expected):
    git(repo, "checkout", "-q", "-b", "feature")
    write(
        repo,
        change,
        ((repo / change).read_text() if (repo / change).exists() else "") + "# edited\n",
    )
    if not change.endswith("2026-12.csv"):
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "change")
    assert names(repo, "main") == expected


def test_changes_on_the_base_branch_since_the_fork_do_not_count(repo):
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "upsell/schema.yaml", "mine\n")
    git(repo, "commit", "-qam", "feature")
    git(repo, "checkout", "-q", "main")
    write(repo, "shared/customers.csv", "theirs\n")
    git(repo, "commit", "-qam", "main moves on")
    git(repo, "checkout", "-q", "feature")
    assert names(repo, "main") == ["upsell"]


def test_the_cli_prints_the_matrix_and_refuses_what_it_cannot_read(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["models"]) == 0
    assert len(json.loads(capsys.readouterr().out)["include"]) == 3

    assert main(["models", "--changed-since", "no-such-ref"]) == 2
    assert "--changed-since no-such-ref" in capsys.readouterr().err

    write(repo, "copy/mlops.yaml", (repo / "churn/mlops.yaml").read_text())
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert "model name 'churn' is also the name in churn/mlops.yaml" in err
    assert len(err.strip().splitlines()) == 1

    write(repo, "copy/mlops.yaml", "name: [broken\n")
    assert main(["models"]) == 2
    assert "copy/mlops.yaml: " in capsys.readouterr().err


def test_discovery_scales_to_many_models_without_the_heavy_libraries(repo):
    probe = (
        "import sys; from mlops_actions import discovery; discovery.discover(sys.argv[1]); "
        "print(sorted(m for m in ('pandas', 'sklearn', 'numpy') if m in sys.modules))"
    )
    import sys

    out = subprocess.run(
        [sys.executable, "-c", probe, str(repo)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_in_actions_the_matrix_and_its_size_are_step_outputs(repo, tmp_path, monkeypatch, capsys):
    output = tmp_path / "output"
    output.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.chdir(repo)
    assert main(["models", "--name", "fraud", "--name", "churn"]) == 0
    printed = capsys.readouterr().out.strip()
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert lines == {"matrix": printed, "count": "2"}
    assert [m["name"] for m in json.loads(printed)["include"]] == ["churn", "fraud"]


def test_a_name_no_model_has_is_an_error_not_an_empty_matrix(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["models", "--name", "frauds"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "mlops: error: --name frauds: no model of that name (the models: churn, fraud, upsell)"
    ), err


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("**/mlops.yaml", ["churn", "fraud", "upsell", "root", "deep"]),
        ("*/mlops.yaml", ["churn", "fraud", "upsell"]),
        ("mlops.yaml", ["root"]),
        ("teams/**/mlops.yaml", ["deep"]),
    ],
)
def test_patterns_span_folders_with_two_stars_and_never_enter_a_venv(repo, pattern, expected):
    write(repo, "mlops.yaml", (repo / "churn/mlops.yaml").read_text().replace("churn", "root"))
    deep = (repo / "churn/mlops.yaml").read_text().replace("churn", "deep")
    write(repo, "teams/a/b/mlops.yaml", deep.replace("../shared", "../../../shared"))
    write(repo, ".venv/lib/site/mlops.yaml", "name: [broken\n")  # would be exit 2 if read
    write(repo, "node_modules/x/mlops.yaml", "name: [broken\n")
    found = discovery.discover(repo, pattern=pattern)
    assert sorted(m.name for m in found) == sorted(expected)


def test_with_data_source_lists_only_the_models_data_watch_can_watch(repo, monkeypatch, capsys):
    config = (repo / "churn/mlops.yaml").read_text()
    write(
        repo,
        "churn/mlops.yaml",
        config.replace(", target: y", ", target: y, source: 's3://bucket/customers.csv'"),
    )
    monkeypatch.chdir(repo)
    assert main(["models", "--with-data-source"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)["include"]] == ["churn"]
