"""drift-check end to end on real data: reference kinds, current sources, skew, exit codes."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.errors import DataError
from mlops_actions.stages.drift_check import PROFILE_METADATA_KEY, drift_check
from support import EXAMPLES, copy_example

PENGUINS = EXAMPLES / "penguins"


@pytest.fixture
def project(tmp_path):
    """The penguins example copied to a temp folder (its config, schema and data)."""
    copy_example("penguins", tmp_path / "penguins")
    return tmp_path / "penguins"


def config(project, **drift):
    overrides = [f"drift.{k}={json.dumps(v)}" for k, v in drift.items()]
    return load_config(project / "mlops.yaml", overrides)


def train_frame(project):
    return pd.read_csv(project / "data" / "train.csv")


def test_no_drift_between_train_and_test(project, tmp_path):
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(project / "data/test.csv")
    )
    assert not result.dataset_drift and result.status == "no_drift" and not result.drift
    saved = json.loads((tmp_path / "w/drift-check/result.json").read_text())
    # six feature columns (year is dropped by config); the target is a signal of its own
    assert saved["dataset_drift"] is False and len(saved["columns"]) == 6
    assert saved["target"]["column"] == "species" and not saved["target"]["drifted"]
    assert saved["status"] == "no_drift" and saved["drift"] is False
    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert summary.startswith("## ✅ No drift")
    html = (tmp_path / "w/drift-check/report.html").read_text()
    assert html.count("<svg") == 7 and "http://" not in html.replace("http://www.w3.org", "")


def test_known_drift_one_island_only(project, tmp_path):
    """Biscoe holds nearly all Gentoo penguins: species and sizes shift when only it is seen."""
    biscoe = train_frame(project).query("island == 'Biscoe'")
    biscoe.to_csv(tmp_path / "biscoe.csv", index=False)
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(tmp_path / "biscoe.csv")
    )
    assert result.dataset_drift and result.status == "drift"
    assert {"island", "flipper_length_mm"} <= set(result.drifted_columns)
    assert result.target["drifted"] and "species" not in result.drifted_columns
    assert result.columns[0]["drifted"]  # drifted columns come first


def test_fail_on_drift_exits_1_and_empty_current_exits_2(project, tmp_path, capsys):
    train_frame(project).query("island == 'Biscoe'").to_csv(tmp_path / "biscoe.csv", index=False)
    args = [
        "drift-check",
        "--config",
        str(project / "mlops.yaml"),
        "--workdir",
        str(tmp_path / "w"),
        "--no-alert",
    ]
    assert main([*args, "--current", str(tmp_path / "biscoe.csv")]) == 0
    assert main([*args, "--current", str(tmp_path / "biscoe.csv"), "--fail-on-drift"]) == 1
    train_frame(project).head(0).to_csv(tmp_path / "empty.csv", index=False)
    assert main([*args, "--current", str(tmp_path / "empty.csv")]) == 2
    assert "no rows" in capsys.readouterr().err


def _onnx_with_profile(path: Path, profile: dict) -> Path:
    """A tiny real ONNX model (identity) carrying the profile as package-onnx embeds it."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(graph)
    helper.set_model_props(model, {PROFILE_METADATA_KEY: json.dumps(profile)})
    onnx.save(model, path)
    return path


def test_embedded_and_saved_profile_give_the_training_file_results(project, tmp_path):
    current = str(project / "data/live.csv")
    from_train = drift_check(config(project), workdir=tmp_path / "a", current=current)
    profile = json.loads((tmp_path / "a/drift-check/profile.json").read_text())
    model = _onnx_with_profile(tmp_path / "model.onnx", profile)
    from_model = drift_check(
        config(project), workdir=tmp_path / "b", current=current, reference=model
    )
    from_profile = drift_check(
        config(project),
        workdir=tmp_path / "c",
        current=current,
        reference=tmp_path / "a/drift-check/profile.json",
    )
    assert from_model.reference["kind"] == "model"
    for other in (from_model, from_profile):
        assert [(c["column"], c["test"], c["score"]) for c in other.columns] == [
            (c["column"], c["test"], c["score"]) for c in from_train.columns
        ]


def test_model_without_profile_is_a_model_error(project, tmp_path, capsys):
    model = _onnx_with_profile(tmp_path / "bare.onnx", {})
    m = onnx.load(model)
    del m.metadata_props[:]
    onnx.save(m, model)
    code = main(
        [
            "drift-check",
            "--config",
            str(project / "mlops.yaml"),
            "--workdir",
            str(tmp_path / "w"),
            "--current",
            str(project / "data/live.csv"),
            "--reference",
            str(model),
            "--no-alert",
        ]
    )
    assert code == 2 and PROFILE_METADATA_KEY in capsys.readouterr().err


def _big_frames(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "n": rng.integers(0, 100, rows),
            "c": rng.choice(["a", "b", "c"], rows),
            "species": rng.choice(["Adelie", "Gentoo"], rows),
        }
    )


def test_chunked_parquet_folder_equals_one_file(project, tmp_path):
    _big_frames(3000, 1, 0.0).to_csv(tmp_path / "ref.csv", index=False)
    current = _big_frames(5000, 2, 0.05)
    current.to_parquet(tmp_path / "one.parquet", row_group_size=5000)
    (tmp_path / "parts").mkdir()
    for i, start in enumerate(range(0, 5000, 1250)):
        part = current.iloc[start : start + 1250]
        part.to_parquet(tmp_path / "parts" / f"part-{i}.parquet", row_group_size=700)
    whole = drift_check(
        config(project, chunk_rows=100000),
        workdir=tmp_path / "a",
        current=str(tmp_path / "one.parquet"),
        reference=tmp_path / "ref.csv",
    )
    chunked = drift_check(
        config(project, chunk_rows=1000),
        workdir=tmp_path / "b",
        current=str(tmp_path / "parts"),
        reference=tmp_path / "ref.csv",
    )
    globbed = drift_check(
        config(project, chunk_rows=1000),
        workdir=tmp_path / "c",
        current=str(tmp_path / "parts" / "part-*.parquet"),
        reference=tmp_path / "ref.csv",
    )
    assert whole.columns == chunked.columns == globbed.columns
    assert chunked.current["rows"] == 5000 and not any(c["approximate"] for c in chunked.columns)


def test_jsonl_inference_log(project, tmp_path):
    frame = train_frame(project).drop(columns=["species"]).head(60)
    with open(tmp_path / "log.jsonl", "w") as fh:
        for i, row in enumerate(frame.to_dict(orient="records")):
            fh.write(json.dumps({"ts": i, "inputs": row, "prediction": "Adelie"}) + "\n")
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(tmp_path / "log.jsonl")
    )
    assert {c["column"] for c in result.columns} == {
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
    }
    # the logged prediction is the server's bookkeeping, not a new data column
    assert result.schema["new_columns"] == ["ts"]
    assert result.current["bookkeeping"] == ["prediction"]


def test_schema_skew_is_reported_not_raised(project, tmp_path):
    frame = pd.read_csv(project / "data/live.csv").drop(columns=["sex"])
    frame["body_mass_g"] = frame["body_mass_g"].map(lambda v: f"{v} g")  # numbers became text
    frame["colour"] = "black"
    frame.to_csv(tmp_path / "skewed.csv", index=False)
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(tmp_path / "skewed.csv")
    )
    assert result.schema["missing_columns"] == ["sex"]
    assert result.schema["new_columns"] == ["colour"]
    assert [d["column"] for d in result.schema["dtype_changes"]] == ["body_mass_g"]
    assert any(u["column"] == "body_mass_g" for u in result.untested)
    assert "Schema skew" in (tmp_path / "w/drift-check/summary.md").read_text()


class _TokenHandler(SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.headers.get("Authorization") != "Bearer s3cret":
            self.send_error(401)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def test_http_current_with_token(project, tmp_path, monkeypatch):
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_TokenHandler, directory=str(project / "data"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/live.csv"
    try:
        monkeypatch.setenv("DRIFT_TOKEN", "s3cret")
        result = drift_check(
            config(project, token_env="DRIFT_TOKEN"), workdir=tmp_path / "w", current=url
        )
        assert result.current["rows"] == 120
        monkeypatch.setenv("DRIFT_TOKEN", "wrong")
        with pytest.raises(DataError, match="HTTP 401"):
            drift_check(
                config(project, token_env="DRIFT_TOKEN"), workdir=tmp_path / "w", current=url
            )
    finally:
        server.shutdown()
        server.server_close()


def test_calibrate_stores_thresholds_in_the_profile(project, tmp_path):
    result = drift_check(
        config(project, calibrate={"repeats": 20, "quantile": 0.95}),
        workdir=tmp_path / "w",
        current=str(project / "data/test.csv"),
        calibrate=True,
    )
    profile = json.loads((tmp_path / "w/drift-check/profile.json").read_text())
    assert result.calibrated and profile["thresholds"]["body_mass_g"]["test"] == "ks"
    assert profile["thresholds"]["body_mass_g"]["repeats"] == 20
    # a later check from the saved profile uses them
    later = drift_check(
        config(project),
        workdir=tmp_path / "v",
        current=str(project / "data/test.csv"),
        reference=tmp_path / "w/drift-check/profile.json",
    )
    used = {c["column"]: c["threshold"] for c in later.columns}
    assert used["body_mass_g"] == pytest.approx(profile["thresholds"]["body_mass_g"]["threshold"])


def test_sketched_current_data_is_marked_approximate(project, tmp_path):
    _big_frames(3000, 1, 0.0).to_csv(tmp_path / "ref.csv", index=False)
    _big_frames(6000, 2, 0.3).to_parquet(tmp_path / "cur.parquet", row_group_size=1000)
    result = drift_check(
        config(project, chunk_rows=1000, max_values=1024),
        workdir=tmp_path / "w",
        current=str(tmp_path / "cur.parquet"),
        reference=tmp_path / "ref.csv",
    )
    x = next(c for c in result.columns if c["column"] == "x")
    assert x["approximate"] and x["error_bound"] > 0 and x["drifted"]
    exact = drift_check(
        config(project),
        workdir=tmp_path / "e",
        current=str(tmp_path / "cur.parquet"),
        reference=tmp_path / "ref.csv",
    )
    x_exact = next(c for c in exact.columns if c["column"] == "x")
    assert abs(x["score"] - x_exact["score"]) <= x["error_bound"]
    assert "approximate" in (tmp_path / "w/drift-check/summary.md").read_text()


def test_drift_check_flags_reach_the_library_function(monkeypatch, project, tmp_path):
    from mlops_actions.errors import UsageError
    from mlops_actions.stages import drift_check as stage

    seen = {}

    def fake(config, **kwargs):
        seen.update(kwargs, config=config)
        raise UsageError("stop here")

    monkeypatch.setattr(stage, "drift_check", fake)
    code = main(
        [
            "drift-check",
            "--config",
            str(project / "mlops.yaml"),
            "--workdir",
            str(tmp_path / "w"),
            "--current",
            "logs/*.jsonl",
            "--reference",
            "model.onnx",
            "--fail-on-drift",
            "--calibrate",
            "--no-alert",
            "--set",
            "drift.drift_share=0.3",
        ]
    )
    assert code == 2
    assert seen["current"] == "logs/*.jsonl" and seen["reference"] == "model.onnx"
    assert seen["fail_on_drift"] and seen["calibrate"] and seen["alert"] is False
    assert seen["config"].drift.drift_share == 0.3 and seen["workdir"] == str(tmp_path / "w")


def test_outputs_for_actions(project, tmp_path, monkeypatch):
    out = tmp_path / "gh_output"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    train_frame(project).query("island == 'Biscoe'").to_csv(tmp_path / "biscoe.csv", index=False)
    assert (
        main(
            [
                "drift-check",
                "--config",
                str(project / "mlops.yaml"),
                "--workdir",
                str(tmp_path / "w"),
                "--current",
                str(tmp_path / "biscoe.csv"),
                "--no-alert",
            ]
        )
        == 0
    )
    lines = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert lines["drift"] == "true" and float(lines["drift-share"]) >= 0.5
    assert lines["status"] == "drift" and "island" in json.loads(lines["drifted-columns"])


def test_nested_json_values_are_reported_untested(project, tmp_path):
    frame = train_frame(project).head(40)
    with open(tmp_path / "log.jsonl", "w") as fh:
        for row in frame.to_dict(orient="records"):
            fh.write(
                json.dumps({**row, "outputs": {"label": row["species"]}, "tags": ["a", "b"]}) + "\n"
            )
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(tmp_path / "log.jsonl")
    )
    assert result.current["rows"] == 40 and {"outputs", "tags"} <= set(result.schema["new_columns"])


def test_current_csv_is_read_as_the_training_data_is(project, tmp_path):
    """Current CSVs go through data.read_chunks: header-only parts of a glob are skipped, and a
    file in another delimiter gets its one-line error naming data.delimiter."""
    (tmp_path / "parts").mkdir()
    live = pd.read_csv(project / "data/live.csv")
    live.to_csv(tmp_path / "parts/a.csv", index=False)
    live.head(0).to_csv(tmp_path / "parts/b.csv", index=False)
    result = drift_check(
        config(project), workdir=tmp_path / "w", current=str(tmp_path / "parts/*.csv")
    )
    assert result.current["rows"] == len(live) and result.current["files"] == ["a.csv", "b.csv"]
    live.to_csv(tmp_path / "semicolon.csv", index=False, sep=";")
    with pytest.raises(DataError, match=r"semicolon-separated: set data.delimiter to ';'"):
        drift_check(
            config(project), workdir=tmp_path / "w", current=str(tmp_path / "semicolon.csv")
        )
