"""The CLI as a new user meets it: exit codes, one-line errors, fast start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import SRC

HEAVY = (
    "pandas",
    "numpy",
    "sklearn",
    "onnx",
    "onnxruntime",
    "pandera",
    "scipy",
    "skl2onnx",
    "jinja2",
    "yaml",
    "dask",
    "distributed",
    "mlflow",
)


@pytest.mark.parametrize("flag", ["--help", "--version", "train --help", "drift-check --help"])
def test_help_and_version_import_no_heavy_library(flag):
    code = (
        "import sys\n"
        "from mlops_actions.cli import main\n"
        f"try:\n    main({flag.split()!r})\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        check=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_version(mlops, tmp_path):
    from mlops_actions import __version__

    run = mlops("--version", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == f"mlops {__version__}"


def test_every_stage_is_a_subcommand_with_the_common_flags(mlops, tmp_path):
    for command in (
        "validate-data",
        "train",
        "evaluate-gate",
        "package-onnx",
        "deploy",
        "drift-check",
    ):
        run = mlops(command, "--help", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        for flag in ("--config", "--workdir", "--set", "--debug"):
            assert flag in run.stdout


def assert_one_line_error(run, *fragments):
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_flag_is_one_line_usage_error(mlops, tmp_path):
    assert_one_line_error(
        mlops("train", "--bogus", cwd=tmp_path), "unrecognized arguments: --bogus"
    )


def test_missing_config(mlops, tmp_path):
    assert_one_line_error(mlops("train", cwd=tmp_path), "mlops.yaml: config file not found")


def test_yaml_syntax_error(mlops, tmp_path):
    (tmp_path / "mlops.yaml").write_text("name: x\n  task: : bad\n")
    assert_one_line_error(mlops("train", cwd=tmp_path), "mlops.yaml: YAML syntax error at line 2")


def test_unknown_estimator(mlops, example):
    project = example("penguins")
    run = mlops(
        "train", "--set", "model.estimator=sklearn.ensemble.RandomForestClasifier", cwd=project
    )
    assert_one_line_error(
        run,
        "model.estimator",
        "has no 'RandomForestClasifier'",
        "did you mean 'RandomForestClassifier'",
    )


def test_estimator_from_a_missing_module(mlops, example):
    run = mlops("train", "--set", "model.estimator=sklearnx.Foo", cwd=example("penguins"))
    assert_one_line_error(run, "model.estimator 'sklearnx.Foo': cannot import 'sklearnx'")


def test_wrong_hyperparameter_name_and_value(mlops, example):
    project = example("penguins")
    assert_one_line_error(
        mlops("train", "--set", "model.params.n_estimator=5", cwd=project),
        "model.params.n_estimator is not a parameter of RandomForestClassifier (did you mean 'n_estimators'?)",
    )
    assert_one_line_error(
        mlops("train", "--set", "model.params.max_depth=deep", cwd=project),
        "model.params:",
        "'max_depth' parameter of RandomForestClassifier",
    )


def test_missing_target_column(mlops, example):
    run = mlops("train", "--set", "data.target=specie", cwd=example("penguins"))
    assert_one_line_error(run, "train.csv: column 'specie' not found (did you mean 'species'?)")


def test_empty_data_file(mlops, example):
    project = example("penguins")
    (project / "data/train.csv").write_text("")
    assert_one_line_error(mlops("train", cwd=project), "train.csv: file is empty")


def test_header_only_data_file(mlops, example):
    project = example("penguins")
    (project / "data/train.csv").write_text("species,island\n")
    assert_one_line_error(mlops("train", cwd=project), "train.csv: no data rows")


def test_unreadable_binary_file(mlops, example):
    project = example("penguins")
    (project / "data/train.csv").write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(mlops("train", cwd=project), "train.csv")


def test_wrong_delimiter_is_named(mlops, example):
    project = example("penguins")
    path = project / "data/train.csv"
    path.write_text(path.read_text().replace(",", ";"))
    assert_one_line_error(
        mlops("train", cwd=project), "looks semicolon-separated", "data.delimiter"
    )


def test_latin1_file_is_reported_with_the_fix(mlops, example):
    project = example("penguins")
    path = project / "data/train.csv"
    path.write_bytes(path.read_bytes().replace(b"Torgersen", "Torgersén".encode("latin-1"), 1))
    assert_one_line_error(mlops("train", cwd=project), "not valid utf-8 text", "data.encoding")
    assert mlops("train", "--set", "data.encoding=latin-1", cwd=project).returncode == 0


def _stray_text(project):
    path = project / "data/train.csv"
    lines = path.read_text().splitlines()
    fields = lines[9].split(",")
    fields[2] = "n/a?"  # bill_length_mm on line 10
    lines[9] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def test_stray_text_in_a_numeric_column_names_column_and_line(mlops, example):
    project = example("penguins")
    _stray_text(project)
    assert_one_line_error(
        mlops("train", cwd=project), "column 'bill_length_mm'", "line 10", "'n/a?'"
    )


def test_stray_text_is_fine_when_the_schema_says_string(mlops, example):
    project = example("penguins")
    _stray_text(project)
    (project / "schema.yaml").write_text(
        "schema_type: dataframe\ncolumns:\n  bill_length_mm:\n    dtype: str\n"
    )
    run = mlops("train", cwd=project)
    assert run.returncode == 0, run.stderr


def test_debug_shows_the_traceback(mlops, tmp_path):
    run = mlops("--debug", "train", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" in run.stderr
    run = mlops("train", "--debug", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" in run.stderr


def test_flags_reach_the_library_function(monkeypatch, tmp_path, example):
    """--config, --set and --workdir arrive at train() unchanged."""
    from mlops_actions import cli
    from mlops_actions.errors import UsageError
    from mlops_actions.stages import train as train_module

    seen = {}

    def fake_train(config, *, workdir):
        seen.update(config=config, workdir=workdir)
        raise UsageError("stop here")

    monkeypatch.setattr(train_module, "train", fake_train)
    project = example("penguins")
    code = cli.main(
        [
            "train",
            "--config",
            str(project / "mlops.yaml"),
            "--workdir",
            str(tmp_path / "w"),
            "--set",
            "model.params.max_depth=3",
        ]
    )
    assert code == 2
    assert seen["workdir"] == str(tmp_path / "w")
    assert seen["config"].model.params["max_depth"] == 3
    assert seen["config"].path == (project / "mlops.yaml").resolve()


def test_train_writes_its_outputs_under_workdir(mlops, example, tmp_path):
    project = example("diabetes")
    run = mlops("train", "--workdir", str(tmp_path / "out"), cwd=project)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out" / "train"
    for name in (
        "result.json",
        "summary.md",
        "model.joblib",
        "metrics.json",
        "params.json",
        "lineage.json",
        "features.json",
    ):
        assert (out / name).is_file(), name
    result = json.loads((out / "result.json").read_text())
    assert result["stage"] == "train" and result["passed"] is True
    assert set(result["metrics"]) == {"rmse", "mae", "r2", "mape"}
    assert "| rmse |" in run.stdout
