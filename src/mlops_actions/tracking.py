"""Runs in the team's MLflow tracker: train, evaluate-gate and package-onnx log what they
already wrote, the later stages to train's run.

Enabled by ``MLFLOW_TRACKING_URI`` or ``tracking.uri`` in the config; the environment wins, so
a workflow holding the tracker's credentials decides where they are sent (on a pull request the
config is the pull request's). The client is the optional extra ``mlops-actions[tracking]``,
imported only here and only when tracking is on. A tracker that is down, refuses the
credentials or lacks the client is a warning: the stage's verdict and its local outputs never
depend on it. MLflow's client retries for minutes by default; unless the user set them, its
retries and timeout are cut (``CLIENT_DEFAULTS``) so a down tracker costs seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from mlops_actions.config import Config
from mlops_actions.errors import one_line
from mlops_actions.github.actions import annotate
from mlops_actions.reports import flatten_params
from mlops_actions.workdir import RESULT_FILE

URI_ENV = "MLFLOW_TRACKING_URI"
INSTALL_HINT = "pip install 'mlops-actions[tracking]'"
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    # the user's tracker gets the run; nobody else learns that there was one
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # the stage's summary links the run; the client's own two lines would repeat it
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
"""Client settings while logging, each only where the environment does not set it."""
MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 8000
"""What an MLflow server stores in one param or tag value."""
STAGES_TAG = "mlops.stages"
"""The stages that logged to a run, in order, e.g. ``train,evaluate-gate``."""
URL_SAFE = ":/?#&=%~+,;@!$'-._"
"""Kept as is in a run's link; anything else (spaces, brackets, quotes, backticks) is
percent-encoded, so the link cannot end early or break out of markdown."""
_USERINFO = re.compile(r"//[^/@\s]*@")


@dataclass(frozen=True)
class Tracker:
    uri: str
    experiment: str


def tracker(config: Config) -> Tracker | None:
    """Where ``config``'s runs go, or None when tracking is off."""
    uri = os.environ.get(URI_ENV) or config.tracking.uri
    if not uri:
        return None
    return Tracker(uri=uri, experiment=config.tracking.experiment or config.name)


def log_run(
    config: Config,
    *,
    stage: str,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float | None] | None = None,
    tags: Mapping[str, Any] | None = None,
    files: Iterable[Path] = (),
    texts: Mapping[str, str] | None = None,
    continue_run: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Log one stage to an MLflow run and return ``{uri, experiment_id, run_id, url}``;
    None when tracking is off or failed (then with a warning, never an exception).

    ``params`` may be nested (logged as ``a.b`` keys); ``files`` become artifacts in the
    folder ``stage``, ``texts`` artifacts by name;
    ``continue_run`` (what an earlier stage returned) adds to that run instead of a new one
    when it went to the same tracker.
    """
    where = tracker(config)
    if where is None:
        return None
    try:
        with _client_settings():
            try:
                from mlflow.tracking import MlflowClient
            except ImportError:
                _warn(
                    f"{_public(where.uri)} is configured but the MLflow client is not installed; {INSTALL_HINT}"
                )
                return None
            client = MlflowClient(tracking_uri=where.uri)
            run_id, experiment_id, stages = _open_run(client, where, stage, continue_run)
            tags = {**(tags or {}), STAGES_TAG: ",".join([*stages, stage])}
            _log(client, run_id, params or {}, metrics or {}, tags)
            for path in files:
                client.log_artifact(run_id, str(path), stage)
            for name, text in (texts or {}).items():
                client.log_text(run_id, text, name)
            client.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # the tracker is never a reason for a stage to fail
        _warn(f"{_public(where.uri)} not reached or refused the run: {_reason(exc)}")
        return None
    return {
        "uri": _public(where.uri),
        "experiment_id": experiment_id,
        "run_id": run_id,
        "url": run_link(where.uri, experiment_id, run_id),
    }


def run_link(uri: str, experiment_id: str, run_id: str) -> str | None:
    """The run's page in the MLflow UI of an http(s) tracker (without credentials in the URL)."""
    if urlsplit(uri).scheme not in ("http", "https"):
        return None
    url = f"{_public(uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return quote(url, safe=URL_SAFE)


def model_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """train's params.json as run params: the estimator, its factory and every parameter."""
    params = params or {}
    return {
        "estimator": params.get("estimator"),
        "factory": params.get("factory"),
        **(params.get("params") or {}),
    }


def earlier_run(model_path: Path) -> dict[str, Any] | None:
    """The run train logged ``model_path`` to, from the ``result.json`` beside it (None when
    it has none or that file is unreadable): the later stages add to it."""
    try:
        result = json.loads(model_path.with_name(RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tracking = result.get("tracking") if isinstance(result, dict) else None
    return tracking if isinstance(tracking, dict) else None


def lineage_tags(lineage: Mapping[str, Any] | None) -> dict[str, Any]:
    """train's lineage.json as run tags: commit, workflow run, config hash, data fingerprints."""
    lineage = lineage or {}
    git = lineage.get("git") or {}
    tags = {
        "mlops.model": lineage.get("model"),
        "mlflow.source.git.commit": git.get("commit"),
        "mlops.git_commit": git.get("commit"),
        "mlops.run_url": lineage.get("run_url"),
        "mlops.config_hash": lineage.get("config_hash"),
    }
    for role, fingerprint in (lineage.get("data") or {}).items():
        tags[f"mlops.data.{role}.sha256"] = (fingerprint or {}).get("sha256")
    return tags


def _open_run(
    client: Any, where: Tracker, stage: str, continue_run: Mapping[str, Any] | None
) -> tuple[str, str, list[str]]:
    """The run to log to, its experiment and the stages it has already: ``continue_run`` when
    it went to this tracker and still exists, else a new one in the experiment (created on
    first use)."""
    if continue_run and continue_run.get("uri") == _public(where.uri):
        from mlflow.exceptions import MlflowException

        try:
            run = client.get_run(continue_run["run_id"])
        except MlflowException:
            run = None  # deleted, or another tracker at the same address
        if run is not None and run.info.lifecycle_stage == "active":
            stages = run.data.tags.get(STAGES_TAG, "").split(",")
            return run.info.run_id, run.info.experiment_id, [s for s in stages if s]
    experiment = client.get_experiment_by_name(where.experiment)
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(where.experiment)
    )
    run = client.create_run(experiment_id, run_name=f"{where.experiment}-{stage}")
    return run.info.run_id, experiment_id, []


def _log(
    client: Any,
    run_id: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float | None],
    tags: Mapping[str, Any],
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None],
        params=[
            Param(k, str(v)[:MAX_PARAM_CHARS])
            for k, v in flatten_params(dict(params)).items()
            if v is not None
        ],
        tags=[RunTag(k, str(v)[:MAX_TAG_CHARS]) for k, v in tags.items() if v is not None],
    )


@contextlib.contextmanager
def _client_settings() -> Iterator[None]:
    """``CLIENT_DEFAULTS`` where the environment leaves it open, and the client's retry chatter
    (urllib3's and MLflow's log lines) kept off the terminal: one warning says it all."""
    added = [name for name in CLIENT_DEFAULTS if name not in os.environ]
    loggers = [logging.getLogger(name) for name in ("mlflow", "urllib3")]
    levels = [logger.level for logger in loggers]
    os.environ.update({name: CLIENT_DEFAULTS[name] for name in added})
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _public(uri: str) -> str:
    """``uri`` without a user or password in it: it is shown in reports and logs."""
    parts = urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: Exception) -> str:
    """The first line of the client's message, cut, without a user or password of a URL in it."""
    lines = str(exc).strip().splitlines()
    text = _USERINFO.sub("//", one_line(lines[0])) if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _warn(message: str) -> None:
    annotate("warning", f"tracking: {message}; the stage's result and outputs are unaffected")
