"""train and evaluate-gate log to a real MLflow tracker, read back with MLflow's own client;
a tracker that is down costs seconds and a warning, never the stage or its outputs."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlops_actions.config import load_config
from mlops_actions.github.comment import marker
from mlops_actions.tracking import log_run
from support.mlflow_server import free_port

pytest.importorskip(
    "mlflow", reason="the tracking extra (mlops-actions[tracking]) is not installed"
)


def git_commit(project) -> str:
    """Make the project a repository with one commit (lineage records it); its sha."""
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True)
    return sha.stdout.strip()


def client(server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.uri)


def test_train_gate_and_package_log_one_run_read_back_by_mlflow(
    mlflow_server, example, mlops, tmp_path
):
    project = example("penguins")
    sha = git_commit(project)
    actions_run = {
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "octo/models",
        "GITHUB_RUN_ID": "4242",
    }
    # the experiment from the config; the server from the environment
    overrides = ["--set", "tracking.experiment=penguins-read-back"]
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, **actions_run}
    for stage in ("train", "evaluate-gate", "package-onnx"):
        run = mlops(stage, *overrides, cwd=project, env=env)
        assert run.returncode == 0, run.stderr
        assert "warning" not in run.stderr, run.stderr

    mlflow = client(mlflow_server)
    experiment = mlflow.get_experiment_by_name("penguins-read-back")
    (logged,) = mlflow.search_runs([experiment.experiment_id])
    out = project / ".mlops"
    train = json.loads((out / "train" / "result.json").read_text())
    gate = json.loads((out / "evaluate-gate" / "result.json").read_text())
    package = json.loads((out / "package-onnx" / "result.json").read_text())
    assert train["tracking"]["run_id"] == gate["tracking"]["run_id"] == logged.info.run_id
    assert package["tracking"]["run_id"] == logged.info.run_id
    assert gate["tracking"]["url"] == (
        f"{mlflow_server.uri}/#/experiments/{experiment.experiment_id}/runs/{logged.info.run_id}"
    )

    params = json.loads((out / "train" / "params.json").read_text())
    assert logged.data.params["n_estimators"] == "200"
    assert logged.data.params["estimator"] == params["estimator"]
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    assert logged.data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert logged.data.metrics["log_loss"] == pytest.approx(metrics["log_loss"])

    lineage = json.loads((out / "train" / "lineage.json").read_text())
    tags = logged.data.tags
    assert tags["mlops.git_commit"] == tags["mlflow.source.git.commit"] == sha
    assert tags["mlops.run_url"] == "https://github.example/octo/models/actions/runs/4242"
    for role in ("train", "test"):
        assert tags[f"mlops.data.{role}.sha256"] == lineage["data"][role]["sha256"]
    assert tags["mlops.model"] == "penguins-species"
    assert tags["mlops.stages"] == "train,evaluate-gate,package-onnx"
    assert tags["mlops.onnx_sha256"] == package["model_sha256"]
    assert tags["mlops.gate"] == "passed"
    assert logged.info.status == "FINISHED"

    artifacts = {
        a.path
        for folder in ("train", "evaluate-gate", "package-onnx")
        for a in mlflow.list_artifacts(logged.info.run_id, folder)
    }
    assert {"train/summary.md", "train/params.json", "train/lineage.json"} <= artifacts
    assert {"evaluate-gate/report.md", "evaluate-gate/metrics.json"} <= artifacts
    report = mlflow.download_artifacts(logged.info.run_id, "evaluate-gate/report.md", str(tmp_path))
    assert "Gate passed" in Path(report).read_text()
    card = mlflow.download_artifacts(
        logged.info.run_id, "package-onnx/model-card.md", str(tmp_path)
    )
    assert Path(card).read_text() == (out / "package-onnx" / "model-card.md").read_text()

    # the step summary of each stage links the run
    link = f"Tracked in MLflow: run [{logged.info.run_id}]({gate['tracking']['url']})"
    assert link in (out / "train" / "summary.md").read_text()
    assert link in (out / "package-onnx" / "summary.md").read_text()
    assert link in (out / "evaluate-gate" / "comment.md").read_text()


def test_the_pr_comment_links_the_run(mlflow_server, fake_github, example, mlops, tmp_path):
    project = example("penguins")
    pr = fake_github.add_pull_request()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr}}))
    env = {
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_TOKEN": fake_github.token,
        "GITHUB_REPOSITORY": fake_github.repository,
        "GITHUB_EVENT_PATH": str(event),
    }
    tracked = ["--set", f"tracking.uri={mlflow_server.uri}", "--set", "tracking.experiment=pr"]
    assert mlops("train", *tracked, cwd=project).returncode == 0
    run = mlops("evaluate-gate", "--comment", *tracked, cwd=project, env=env)
    assert run.returncode == 0, run.stderr

    url = json.loads((project / ".mlops" / "evaluate-gate" / "result.json").read_text())[
        "tracking"
    ]["url"]
    (comment,) = fake_github.comments_on(pr)
    assert comment["body"].startswith(marker("penguins-species"))
    assert f"Tracked in MLflow: run [{url.rsplit('/', 1)[-1]}]({url})" in comment["body"]


def test_a_down_tracker_is_a_warning_and_the_outputs_stay(example, mlops, tmp_path):
    project = example("penguins")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    output, summary = tmp_path / "output", tmp_path / "summary"
    actions = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }

    train = mlops("train", cwd=project, env={"MLFLOW_TRACKING_URI": down})
    assert train.returncode == 0, train.stderr
    (warning,) = [
        line for line in train.stderr.splitlines() if line.startswith("warning: tracking:")
    ]
    assert down in warning and "unaffected" in warning
    for name in ("model.joblib", "metrics.json", "lineage.json", "result.json", "summary.md"):
        assert (project / ".mlops" / "train" / name).exists(), name
    assert (
        json.loads((project / ".mlops" / "train" / "result.json").read_text())["tracking"] is None
    )

    # in Actions the same warning is a workflow command, and the stage's outputs are all set
    gate = mlops("evaluate-gate", cwd=project, env={"MLFLOW_TRACKING_URI": down, **actions})
    assert gate.returncode == 0, gate.stderr
    assert any(line.startswith(f"::warning::tracking: {down}") for line in gate.stdout.splitlines())
    assert "passed=true" in output.read_text() and "tracking-url=\n" in output.read_text()
    assert (
        "Tracked in MLflow" not in (project / ".mlops" / "evaluate-gate" / "comment.md").read_text()
    )


def test_a_down_tracker_costs_seconds_not_minutes(example, capsys):
    """MLflow's client alone retries 7 times with backoff (minutes) before it gives up."""
    import mlflow.tracking  # noqa: F401  # the import is paid once per process; time the network

    port = free_port()
    uri = f"http://user:secret@127.0.0.1:{port}"
    config = load_config(example("penguins") / "mlops.yaml", [f"tracking.uri={uri}"])
    started = time.monotonic()
    assert log_run(config, stage="train", metrics={"accuracy": 1.0}) is None
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"a down tracker cost {elapsed:.1f}s"
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: tracking: http://127.0.0.1:{port} not reached")
    assert "secret" not in warning and "user" not in warning


@pytest.mark.parametrize("status", [401, 403, 503])
def test_a_tracker_that_refuses_is_a_warning(example, capsys, status):
    """Wrong credentials, or a tracker answering errors (retried once), never fail the stage."""
    import mlflow.tracking  # noqa: F401

    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error_code": "REFUSED", "message": "no"}')

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        config = load_config(example("penguins") / "mlops.yaml", [f"tracking.uri={uri}"])
        started = time.monotonic()
        assert log_run(config, stage="train", metrics={"accuracy": 1.0}) is None
        assert time.monotonic() - started < 10
    finally:
        server.shutdown()
        server.server_close()
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: tracking: {uri} not reached or refused the run")
