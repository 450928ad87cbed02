"""The config loader: the sample shape loads, and every kind of mistake gets one clear line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError, UsageError
from support import EXAMPLES

SAMPLE = """\
name: penguins-species
task: classification
data:
  train: data/train.csv
  test: data/test.csv
  target: species
  split: {test_size: 0.25, seed: 7, stratify: true}
  schema: schema.yaml
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 200, max_depth: 8, random_state: 7}
gate:
  metrics:
    accuracy: {min: 0.90, max_drop: 0.02}
    f1_macro: {min: 0.85, max_relative_drop: 0.03}
"""


def write(tmp_path: Path, text: str, name: str = "mlops.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises((ConfigError, UsageError)) as info:
        load_config(path, overrides or [])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_sample_from_the_issue_loads_into_typed_objects(tmp_path):
    config = load_config(write(tmp_path, SAMPLE))
    assert config.name == "penguins-species"
    assert config.task == "classification"
    assert config.data.train == (tmp_path / "data/train.csv").resolve()
    assert config.data.schema == (tmp_path / "schema.yaml").resolve()
    assert config.data.split.test_size == 0.25 and config.data.split.seed == 7
    assert config.model.params["n_estimators"] == 200
    assert config.gate.metrics["accuracy"].min == 0.90
    assert config.gate.metrics["f1_macro"].max_relative_drop == 0.03


def test_paths_resolve_against_the_config_folder_not_the_working_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    write(project, SAMPLE)
    monkeypatch.chdir(tmp_path)
    assert (
        load_config(Path("project/mlops.yaml")).data.test == (project / "data/test.csv").resolve()
    )


def test_wrong_type_names_file_key_and_value(tmp_path):
    path = write(tmp_path, SAMPLE.replace("min: 0.90", "min: high"))
    assert error_of(path) == "mlops.yaml: gate.metrics.accuracy.min must be a number, got 'high'"


def test_unknown_key_suggests_the_near_one(tmp_path):
    path = write(tmp_path, SAMPLE.replace("estimator:", "estimtor:"))
    assert error_of(path) == "mlops.yaml: unknown key 'model.estimtor' (did you mean 'estimator'?)"


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, SAMPLE + "gaet: {}\n")
    assert error_of(path) == "mlops.yaml: unknown key 'gaet' (did you mean 'gate'?)"


def test_missing_required_key(tmp_path):
    path = write(tmp_path, SAMPLE.replace("  target: species\n", ""))
    assert error_of(path) == "mlops.yaml: data is missing the required key 'target'"


def test_enum_with_suggestion(tmp_path):
    path = write(tmp_path, SAMPLE.replace("task: classification", "task: clasification"))
    assert error_of(path) == (
        "mlops.yaml: task must be one of classification, regression, got 'clasification' "
        "(did you mean 'classification'?)"
    )


def test_range_error(tmp_path):
    path = write(tmp_path, SAMPLE.replace("test_size: 0.25", "test_size: 1.5"))
    assert error_of(path) == "mlops.yaml: data.split.test_size must be < 1, got 1.5"


def test_pattern_error_explains_the_expected_form(tmp_path):
    path = write(
        tmp_path, SAMPLE.replace("sklearn.ensemble.RandomForestClassifier", "RandomForest")
    )
    message = error_of(path)
    assert message.startswith("mlops.yaml: model.estimator must be a dotted import path")
    assert "got 'RandomForest'" in message


def test_estimator_and_factory_together_are_refused(tmp_path):
    path = write(tmp_path, SAMPLE.replace("  params:", "  factory: my:build\n  params:"))
    assert (
        error_of(path)
        == "mlops.yaml: model: give either model.estimator or model.factory, not both"
    )


def test_unknown_metric_name_is_a_config_error(tmp_path):
    path = write(tmp_path, SAMPLE.replace("f1_macro:", "f1_marco:"))
    assert (
        error_of(path)
        == "mlops.yaml: gate.metrics.f1_marco is not a classification metric (did you mean 'f1_macro'?)"
    )


def test_regression_metric_on_a_classifier_is_refused(tmp_path):
    path = write(tmp_path, SAMPLE.replace("f1_macro:", "rmse:"))
    assert "gate.metrics.rmse is not a classification metric" in error_of(path)


def test_missing_file(tmp_path):
    message = error_of(tmp_path / "nope.yaml")
    assert "nope.yaml: config file not found" in message


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    path = write(tmp_path, "name: x\ntask: [classification\ndata: {}\n")
    message = error_of(path)
    assert message.startswith("mlops.yaml: YAML syntax error at line 3, column")


@pytest.mark.parametrize("text, what", [("", "file is empty"), ("- a\n- b\n", "must be a mapping")])
def test_document_that_is_not_a_mapping(tmp_path, text, what):
    assert what in error_of(write(tmp_path, text))


def test_set_overrides_keep_yaml_types(tmp_path):
    path = write(tmp_path, SAMPLE)
    config = load_config(
        path,
        [
            "model.params.max_depth=3",
            "gate.metrics.accuracy.min=0.5",
            "data.split.stratify=false",
            "description=hello world",
        ],
    )
    assert config.model.params["max_depth"] == 3
    assert config.gate.metrics["accuracy"].min == 0.5
    assert config.data.split.stratify is False
    assert config.description == "hello world"


def test_set_can_create_new_branches_and_is_validated(tmp_path):
    path = write(tmp_path, SAMPLE)
    assert load_config(path, ["gate.metrics.roc_auc.min=0.8"]).gate.metrics["roc_auc"].min == 0.8
    assert error_of(path, ["gate.metrics.accuracy.min=high"]) == (
        "mlops.yaml: gate.metrics.accuracy.min must be a number, got 'high'"
    )


@pytest.mark.parametrize("override", ["novalue", "=3", "a..b=1", "task.x=1"])
def test_malformed_set_is_a_usage_error(tmp_path, override):
    path = write(tmp_path, SAMPLE)
    with pytest.raises(UsageError, match="--set"):
        load_config(path, [override])


def test_config_hash_changes_with_content_only(tmp_path):
    a = load_config(write(tmp_path, SAMPLE))
    b = load_config(write(tmp_path, SAMPLE, name="other.yaml"))
    c = load_config(write(tmp_path, SAMPLE), ["model.params.max_depth=3"])
    assert a.hash == b.hash != c.hash


def test_every_example_config_is_valid():
    examples = EXAMPLES
    configs = sorted(examples.glob("*/mlops.yaml"))
    assert len(configs) >= 2
    tasks = {load_config(p).task for p in configs}
    assert tasks == {"classification", "regression"}


def test_schema_is_itself_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    from mlops_actions.config import config_schema

    Draft202012Validator.check_schema(config_schema())


def test_set_with_an_empty_value_removes_the_key(tmp_path):
    config = load_config(write(tmp_path, SAMPLE), ["data.test=", "model.params.max_depth="])
    assert config.data.test is None
    assert "max_depth" not in config.model.params


def test_a_key_with_a_newline_still_gives_a_one_line_message(tmp_path):
    path = write(tmp_path, SAMPLE + '"bad\\nkey": 1\n')
    assert error_of(path).startswith("mlops.yaml: unknown key 'bad\\nkey'")


@pytest.mark.parametrize(
    "text",
    [
        "?",
        "1: x\n",
        "name: m\ntask: regression\ndata: {train: a, target: b}\ngate: {metrics: {3: {}}}\n",
    ],
)
def test_keys_that_are_not_strings(tmp_path, text):
    assert error_of(write(tmp_path, text)).startswith("mlops.yaml: ")
