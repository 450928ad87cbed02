"""What a candidate model is compared with: a model scored on the same rows, or recorded metrics.

``--baseline`` (or ``gate.baseline``) names one of:

- ``registry:[<target>:]<alias>``: the ONNX model at that alias of a deploy registry target;
- ``git:<ref>`` or ``git:<ref>:<path>``: a ``metrics.json`` committed at that ref (data may differ);
- a path to an ``.onnx`` model, a ``metrics.json`` or an earlier ``result.json``;
- nothing (or ``none``): the first model, judged by absolute rules only.

A baseline that was asked for but cannot be read is an error (exit 2) naming why: a path or a
metrics file at a ref that does not exist, an alias the registry does not have (with the
aliases it has), a registry that cannot be reached. A protected alias (``deploy.protected_aliases``,
default ``production``) that nothing has reached yet while versions exist (a first release
waiting for approval) compares with the newest version, and says so. A silent "first model" would let any
candidate pass on absolute rules alone. The first model is only ever: no baseline configured,
``none`` said explicitly, or a registry that holds no version of this model at all; the
report says which (``Baseline.reason``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import gitrepo
from mlops_actions import workdir as layout
from mlops_actions.errors import DataError, MlopsError, ModelError, UsageError, did_you_mean
from mlops_actions.metrics import METRICS, compute_metrics, metric_names
from mlops_actions.model import OnnxModel
from mlops_actions.registry.targets import registry_alias

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.config import Config
    from mlops_actions.registry.store import Registry

BESIDE = ("params.json", "lineage.json")
"""What train writes beside metrics.json that the report compares."""
TREND_VERSIONS = 10
NOT_CONFIGURED, SAID_NONE, EMPTY_REGISTRY = "not configured", "none", "empty registry"
"""Why a gate has no baseline (``Baseline.reason``): the only three ways to a first model."""


@dataclasses.dataclass(frozen=True)
class Scores:
    """What a model said about the test rows: labels or values, and class probabilities."""

    predictions: Any
    proba: Any = None
    classes: list[str] | None = None

    def as_tuple(self) -> tuple[Any, Any, list[str] | None]:
        return self.predictions, self.proba, self.classes

    def metrics(self, task: str, y_true: Any) -> dict[str, float | None]:
        return compute_metrics(task, y_true, *self.as_tuple())


@dataclasses.dataclass
class Baseline:
    kind: str  # none, registry, onnx, git, file
    source: str | None
    reason: str | None = None
    """For kind none: NOT_CONFIGURED, SAID_NONE or EMPTY_REGISTRY."""
    metrics: dict[str, float | None] = dataclasses.field(default_factory=dict)
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    note: str = ""
    scores: Scores | None = None
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.kind != "none"

    @property
    def same_rows(self) -> bool:
        return self.scores is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "reason": self.reason,
            "metrics": self.metrics,
            "params": self.params,
            "data": self.data,
            "note": self.note,
            "same_rows": self.same_rows,
            "history": self.history,
        }


def resolve_baseline(
    config: Config, spec: str | None, *, test: pd.DataFrame, y_true: Any, workdir: Path
) -> Baseline:
    """Turn ``--baseline`` into metrics (and, for models, scores on ``test``)."""
    if not spec:
        return Baseline(
            "none",
            None,
            NOT_CONFIGURED,
            note="no baseline configured (gate.baseline or --baseline): first model",
        )
    if spec == "none":
        return Baseline("none", spec, SAID_NONE, note="baseline: none: first model")
    if spec.startswith("registry:"):
        return _from_registry(config, spec, test=test, y_true=y_true, workdir=workdir)
    if spec.startswith("git:"):
        return _from_git(config, spec, workdir=workdir)
    path = Path(spec)
    if not path.exists():
        raise UsageError(
            f"--baseline {spec}: no such file; give an existing .onnx, metrics.json or result.json, "
            "or 'none' for a first model"
        )
    if path.suffix.lower() == ".onnx":
        note = "scored with onnxruntime on the same test rows"
        return _model_baseline(config, "onnx", spec, path, note, test=test, y_true=y_true)
    return _from_file(config, path)


def score_onnx(path: Path, test: pd.DataFrame, task: str) -> tuple[Scores, Any]:
    """Run an ONNX model with onnxruntime on the raw test rows; the model comes back for its metadata.

    ``OnnxModel`` makes a corrupt file a ``ModelError`` and columns the model reads but the
    data lacks a ``DataError`` naming them.
    """

    model = OnnxModel(path)
    if model.task != task:
        raise ModelError(
            f"{path}: is a {model.task} model but this config is {task}; pick a model of the same task"
        )
    prediction = model.predict(test, source=f"test data for {path.name}")
    if prediction.task == "regression":
        return Scores(prediction.values), model
    classes = [str(c) for c in prediction.classes] if prediction.classes is not None else None
    labels = prediction.labels.astype(str).astype(object)
    proba = prediction.probabilities
    if proba is not None:  # float32 rows sum to 1 only within 1e-7; scikit-learn checks tighter
        proba = proba.astype("float64")
        proba /= proba.sum(axis=1, keepdims=True)
    return Scores(labels, proba, classes), model


def _model_baseline(
    config: Config, kind: str, spec: str, path: Path, note: str, *, test: pd.DataFrame, y_true: Any
) -> Baseline:
    scores, model = score_onnx(path, test, config.task)
    return Baseline(
        kind,
        spec,
        metrics=scores.metrics(config.task, y_true),
        params=model.meta("params"),
        data=(model.meta("lineage") or {}).get("data"),
        note=note,
        scores=scores,
    )


def _from_registry(
    config: Config, spec: str, *, test: pd.DataFrame, y_true: Any, workdir: Path
) -> Baseline:
    """``registry:[TARGET:]ALIAS``: the version at an alias of a deploy registry target."""
    registry, alias = registry_alias(config, spec, "--baseline")
    model = config.name  # deploy registers every version under the config's name
    with _reaching(registry, spec):
        versions = registry.versions(model)
        aliases = registry.aliases(model)
        if not versions:
            return Baseline(
                "none",
                spec,
                EMPTY_REGISTRY,
                note=f"{registry.url} holds no version of {model} yet: first model",
            )
        found = aliases.get(alias)
        if found is not None:
            version = registry.version(model, found.version)
            where = f"version {version.version} of {registry.url}"
        elif alias in config.deploy.protected_aliases:
            # a release waiting for approval: versions exist, none reached production yet;
            # the newest one is the closest evidence there is, and the report says so
            version = versions[-1]
            where = (
                f"nothing at {alias!r} yet: version {version.version} of {registry.url}, the "
                "newest registered"
            )
        else:
            known = ", ".join(aliases) or "none"
            raise UsageError(
                f"--baseline {spec}: {registry.url} has {len(versions)} version(s) of {model} but no "
                f"alias {alias!r}{did_you_mean(alias, aliases)} (aliases: {known}); name an existing "
                f"alias, promote a version to {alias!r} first, or give 'none' for a first model"
            )
        path = registry.local_copy(
            version, layout.stage_dir(workdir, layout.EVALUATE_GATE) / "registry"
        )
    note = f"{where}, scored with onnxruntime on the same test rows"
    baseline = _model_baseline(config, "registry", spec, path, note, test=test, y_true=y_true)
    baseline.history = [
        {
            "version": v.version,
            "created": str(v.metadata.get("created_at") or "")[:10] or None,
            "aliases": sorted(name for name, a in aliases.items() if a.version == v.version),
            "metrics": dict(v.metrics),
        }
        for v in versions[-TREND_VERSIONS:]
    ]
    return baseline


@contextmanager
def _reaching(registry: Registry, spec: str) -> Iterator[None]:
    """A registry that cannot be read (no network, no credentials, no permission) is exit 2
    naming the registry and the reason: fsspec backends raise their own classes (botocore,
    aiohttp), so anything but our own errors is taken for that."""
    try:
        yield
    except MlopsError:
        raise
    except Exception as exc:
        raise UsageError(
            f"--baseline {spec}: cannot read the registry {registry.url} "
            f"({type(exc).__name__}: {exc}); check its URL, network and credentials"
        ) from None


def _from_git(config: Config, spec: str, *, workdir: Path) -> Baseline:
    """``git:<ref>[:<path>]``: the metrics committed at a ref, as ``dvc metrics diff`` reads them."""
    ref, _, path = spec[len("git:") :].partition(":")
    top = gitrepo.repository_at_ref(config.root, spec, ref)
    if not path:
        try:
            path = layout.train_metrics(Path(workdir).resolve()).relative_to(top).as_posix()
        except ValueError:
            raise UsageError(
                f"--baseline {spec}: the workdir is outside the repository; name the file: git:{ref}:PATH"
            ) from None
    metrics_text = gitrepo.show(top, ref, path)
    if metrics_text is None:
        raise UsageError(
            f"--baseline {spec}: no {path} committed at {ref}; commit the metrics there, "
            "name the file (git:REF:PATH), or give 'none' for a first model"
        )
    where = f"{path} at {ref}"
    params, data = _params_and_data(
        lambda name: gitrepo.show(top, ref, Path(path).with_name(name).as_posix()), f"at {ref}"
    )
    return Baseline(
        "git",
        spec,
        metrics=_metrics_payload(config, _parse_json(metrics_text, where), where),
        params=params,
        data=data,
        note=f"metrics committed at {ref}; the data they were measured on may differ",
    )


def _from_file(config: Config, path: Path) -> Baseline:
    """A ``metrics.json`` (params.json and lineage.json beside it) or a stage's ``result.json``."""
    doc = _parse_json(_read_text(path), str(path))
    if isinstance(doc, dict) and "stage" in doc:
        task = doc.get("task")
        if task and task != config.task:
            raise DataError(
                f"{path}: is a result of a {task} model, this config is {config.task}; pick a matching baseline"
            )
        if doc["stage"] == "train":
            metrics, params, data = (
                doc.get("metrics"),
                doc.get("params"),
                (doc.get("lineage") or {}).get("data"),
            )
        elif doc["stage"] == "evaluate-gate":
            candidate = doc.get("candidate") or {}
            metrics, params, data = (
                candidate.get("metrics"),
                candidate.get("params"),
                candidate.get("data"),
            )
        else:
            raise DataError(
                f"{path}: a {doc['stage']} result has no model metrics; give a train or evaluate-gate result"
            )
        note = f"metrics recorded by {doc['stage']}; the data they were measured on may differ"
    else:
        metrics, note = doc, "metrics read from a file; the data they were measured on may differ"
        params, data = _params_and_data(
            lambda name: (
                _read_text(path.with_name(name)) if path.with_name(name).is_file() else None
            ),
            f"beside {path.name}",
        )
    return Baseline(
        "file",
        str(path),
        metrics=_metrics_payload(config, metrics, str(path)),
        params=params,
        data=data,
        note=note,
    )


def _params_and_data(read: Callable[[str], str | None], where: str) -> tuple[Any, Any]:
    """params.json, and the data fingerprints in lineage.json, beside a metrics file (None if absent)."""
    found = {name: read(name) for name in BESIDE}
    params, lineage = (
        None if text is None else _parse_json(text, f"{name} {where}")
        for name, text in found.items()
    )
    return params, (lineage or {}).get("data")


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise UsageError(
            f"--baseline {path}: is a folder; give the metrics.json, result.json or .onnx file in it"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not UTF-8 text; a baseline file is JSON (metrics.json, result.json) or .onnx"
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the baseline ({exc.strerror or exc})") from None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def _metrics_payload(config: Config, doc: Any, where: str) -> dict[str, float | None]:
    """Metric values of this config's task; a file of the other task is an error."""
    if not isinstance(doc, dict):
        raise DataError(
            f"{where}: expected a mapping of metric name to value, got {type(doc).__name__}"
        )
    ours = set(metric_names(config.task))
    known = {k for k in doc if k in METRICS}
    if known and not known & ours:
        other = METRICS[next(iter(known))].task
        raise DataError(
            f"{where}: holds {other} metrics ({', '.join(sorted(known))}) but this config is {config.task}; "
            "pick a baseline of the same task"
        )
    if not known & ours:
        raise DataError(
            f"{where}: no {config.task} metric found (expected some of {', '.join(sorted(ours))})"
        )
    values = {}
    for name in sorted(known & ours):
        value = doc[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise DataError(f"{where}: metric {name!r} is {value!r}, not a number")
        values[name] = None if value is None else float(value)
    return values
