"""Load ``mlops.yaml`` once, check it against the committed JSON Schema, return typed config.

Config objects are plain data: every check happens here, in ``load_config``, and every
message has one shape: ``mlops.yaml: gate.metrics.accuracy.min must be a number, got 'high'``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mlops_actions.errors import ConfigError, UsageError, did_you_mean
from mlops_actions.metrics import METRICS

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")
BOT_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN writes as
DEFAULT_ESTIMATORS = {
    "classification": "sklearn.ensemble.RandomForestClassifier",
    "regression": "sklearn.ensemble.RandomForestRegressor",
}


@dataclass(frozen=True)
class SplitConfig:
    test_size: float = 0.25
    seed: int = 0
    stratify: bool = True
    by: str = "position"  # or "content"


@dataclass(frozen=True)
class DataConfig:
    train: Path
    target: str
    test: Path | None = None
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    split: SplitConfig = field(default_factory=SplitConfig)
    schema: Path | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    source: str | None = None
    """Outside data data.train is copied from (a path resolved against the config, or a URL)."""


@dataclass(frozen=True)
class ModelConfig:
    estimator: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    factory: str | None = None


@dataclass(frozen=True)
class MetricRule:
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_relative_drop: float | None = None
    block_on: str = "any"


@dataclass(frozen=True)
class SliceRule:
    column: str
    metric: str
    max_gap: float
    min_rows: int = 30


@dataclass(frozen=True)
class Budgets:
    max_model_mb: float | None = None
    max_latency_ms: float | None = None


@dataclass(frozen=True)
class GateConfig:
    baseline: str | None = None
    metrics: Mapping[str, MetricRule] = field(default_factory=dict)
    slices: tuple[SliceRule, ...] = ()
    confidence: float | None = None
    resamples: int = 1000
    seed: int = 0
    budgets: Budgets = field(default_factory=Budgets)


@dataclass(frozen=True)
class LabelRules:
    max_share_change: float = 0.15
    allow_vanishing: bool = False


@dataclass(frozen=True)
class SkewRules:
    categorical_max_linf: float = 0.2
    numeric_max_js: float = 0.3


@dataclass(frozen=True)
class ValidationConfig:
    """Dataset-level checks of ``mlops validate-data``; the schema holds the row-level ones."""

    min_rows: int = 10
    max_missing_share: float = 0.5
    column_max_missing_share: Mapping[str, float] = field(default_factory=dict)
    max_duplicate_share: float = 0.05
    max_leakage_share: float = 0.0
    allow_new_columns: bool = False
    labels: LabelRules = field(default_factory=LabelRules)
    skew: SkewRules = field(default_factory=SkewRules)
    max_samples: int = 5
    max_annotations: int = 50


@dataclass(frozen=True)
class DeployTarget:
    """Where ``mlops deploy --target NAME`` puts a model (see ``$defs/deploy`` in the schema)."""

    name: str
    type: str  # registry | github-release | http
    url: str | None = None
    """registry: ``github://[OWNER/REPO]``, a folder (relative to the config) or an fsspec URL;
    http: the server's base URL."""
    registry: str | None = None
    """github-release, http: the registry target whose version numbers (and history) they share."""
    token_env: str | None = None
    model_name: str | None = None
    deadline_s: float = 30.0
    storage_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeployConfig:
    targets: Mapping[str, DeployTarget] = field(default_factory=dict)
    protected_aliases: tuple[str, ...] = ("production",)
    """Aliases a model reaches only with a passed gate (or ``--force``, recorded)."""


@dataclass(frozen=True)
class ParityConfig:
    atol: float = 1e-4
    """Largest allowed absolute difference of a probability (or regression value)."""
    min_label_agreement: float = 1.0


@dataclass(frozen=True)
class PackageConfig:
    opset: int = 18
    parity: ParityConfig = field(default_factory=ParityConfig)
    measure_latency: bool = True
    test_sample_rows: int = 20
    """Test rows (with expected outputs) stored in the model for deploy's replay check."""


@dataclass(frozen=True)
class GitHubConfig:
    token_env: str = "GITHUB_TOKEN"
    bot_login: str = BOT_LOGIN


@dataclass(frozen=True)
class DriftColumnConfig:
    stattest: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftCalibrateConfig:
    quantile: float = 0.99
    repeats: int = 50
    seed: int = 0


@dataclass(frozen=True)
class DriftAlertsConfig:
    dispatch: bool = True
    issue: bool = True
    event_type: str = "drift-detected"
    cooldown_hours: float = 24.0


@dataclass(frozen=True)
class DriftVerdictConfig:
    """Which signals make the drift verdict: "share" (the share of drifted columns reaches
    drift_share), "any" (one drifted column), True (the signal fired) or False (shown only)."""

    features: str | bool = "share"
    target: bool = True
    predictions: str | bool = "share"
    performance: bool = True


@dataclass(frozen=True)
class DriftConfig:
    reference: Path | str | None = None
    """A path, or ``registry:[TARGET:]ALIAS`` kept as written (the drift stage resolves it)."""
    current: str | None = None
    """Kept as written: it may be a glob or a URL, resolved by the drift stage."""
    token_env: str | None = None
    stattest: str | None = None
    threshold: float | None = None
    columns: Mapping[str, DriftColumnConfig] = field(default_factory=dict)
    drift_share: float = 0.5
    min_rows: int = 30
    """Fewer current rows give no verdict ("not enough data"); fewer labelled rows leave
    target drift and performance unchecked."""
    verdict: DriftVerdictConfig = field(default_factory=DriftVerdictConfig)
    chunk_rows: int = 200_000
    max_values: int = 1 << 20
    calibrate: DriftCalibrateConfig = field(default_factory=DriftCalibrateConfig)
    performance: Mapping[str, float] = field(default_factory=dict)
    alerts: DriftAlertsConfig = field(default_factory=DriftAlertsConfig)


@dataclass(frozen=True)
class ComputeConfig:
    scheduler: str | None = None
    """A Dask scheduler address: drift-check and validate-data run on its cluster."""


@dataclass(frozen=True)
class TrackingConfig:
    uri: str | None = None
    """An MLflow tracking URI; a plain path resolves against the config's folder.
    ``MLFLOW_TRACKING_URI`` wins over it (see ``mlops_actions.tracking``)."""
    experiment: str | None = None
    """Default: the model's name."""


@dataclass(frozen=True)
class TuneConfig:
    """Trials for ``mlops tune-matrix`` and ``mlops select-champion`` (see ``mlops_actions.trials``)."""

    trials: tuple[Mapping[str, Any], ...] = ()
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    metric: str | None = None


@dataclass(frozen=True)
class Config:
    name: str
    task: str
    data: DataConfig
    path: Path
    """The config file; relative paths inside it resolve against its folder."""
    raw: Mapping[str, Any]
    """The document as loaded, after ``--set`` overrides (paths unresolved)."""
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    github: GitHubConfig = field(default_factory=GitHubConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    package: PackageConfig = field(default_factory=PackageConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def label(self) -> str:
        """How messages name the file."""
        return self.path.name

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def resolve(self, path: str | Path) -> Path:
        return (self.root / path).resolve()


def load_config(path: str | Path = "mlops.yaml", overrides: Iterable[str] = ()) -> Config:
    """Read, override, validate and type the config file."""
    config_path = Path(path)
    label = config_path.name
    raw = _read_yaml(config_path)
    for override in overrides:
        _apply_override(raw, override)
    _validate(raw, label)
    return _build(raw, config_path.resolve())


def with_overrides(config: Config, overrides: Iterable[str]) -> Config:
    """``config`` with more ``--set`` overrides, checked as ``load_config`` checks them."""
    raw = copy.deepcopy(dict(config.raw))
    for override in overrides:
        _apply_override(raw, override)
    _validate(raw, config.label)
    return _build(raw, config.path)


def config_from_text(text: str | bytes, path: Path, *, label: str) -> Config:
    """A config document read from elsewhere (a file at a git ref), checked like any other,
    with its relative paths resolved as if it lay at ``path``; ``label`` names it in messages."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
    raw = _parse_yaml(text, label)
    _validate(raw, label)
    return _build(raw, path.resolve())


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH or create one "
            "(examples/penguins/mlops.yaml is a complete one)"
        )
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; --config takes the YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return _parse_yaml(text, path.name)


def _parse_yaml(text: str, label: str) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster (mlops models)
    try:
        doc = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: {_yaml_problem(exc)}") from None
    if doc is None:
        raise ConfigError(f"{label}: file is empty; it needs at least name, task and data")
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{label}: must be a mapping of keys (name:, task:, data:, ...), got {_kind(doc)}"
        )
    return doc


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """``--set a.b.c=value``: the value is read as YAML, so numbers and booleans keep their type.

    An empty value (``--set data.test=``) removes the key, falling back to its default.
    """
    import yaml

    key, sep, value = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise UsageError(
            f"--set {override!r}: expected key.path=value, e.g. model.params.max_depth=6"
        )
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise UsageError(f"--set {override!r}: {where} is {_kind(child)}, not a mapping")
        node = child
    if value.strip():
        node[parts[-1]] = parsed
    else:
        node.pop(parts[-1], None)


@cache
def config_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _schema_validator() -> Any:
    """Built once per process: ``mlops models`` validates hundreds of configs."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(config_schema())


def _validate(raw: dict[str, Any], label: str) -> None:
    validator = _schema_validator()
    if not validator.is_valid(raw):  # the valid config, the usual one, skips ranking errors
        from jsonschema.exceptions import best_match

        raise ConfigError(f"{label}: {_describe(best_match(validator.iter_errors(raw)))}")
    task = raw["task"]
    gate = raw.get("gate") or {}
    named = [(f"gate.metrics.{name}", name) for name in gate.get("metrics") or {}]
    named += [
        (f"gate.slices.{i}.metric", s["metric"]) for i, s in enumerate(gate.get("slices") or [])
    ]
    # a misspelt limit would never fire: drift-check only compares the metrics it knows
    named += [
        (f"drift.performance.{name}", name)
        for name in (raw.get("drift") or {}).get("performance") or {}
    ]
    if (raw.get("tune") or {}).get("metric"):
        named.append(("tune.metric", raw["tune"]["metric"]))
    known = [m for m, spec in METRICS.items() if spec.task == task]
    for where, name in named:
        if name not in known:
            hint = did_you_mean(name, known) or f" (known for {task}: {', '.join(known)})"
            raise ConfigError(f"{label}: {where} is not a {task} metric{hint}")
    for name, rule in (gate.get("metrics") or {}).items():
        if rule.get("block_on") == "significant" and "confidence" not in gate:
            raise ConfigError(
                f"{label}: gate.metrics.{name}.block_on is 'significant' but gate.confidence is not set; "
                "add e.g. gate.confidence: 0.95"
            )
    targets = (raw.get("deploy") or {}).get("targets") or {}
    registries = [name for name, t in targets.items() if t["type"] == "registry"]
    for name, target in targets.items():
        ref = target.get("registry")
        if ref is not None and ref not in registries:
            hint = (
                did_you_mean(ref, registries)
                or f" (registry targets: {', '.join(registries) or 'none'})"
            )
            raise ConfigError(
                f"{label}: deploy.targets.{name}.registry must name a registry target, got {ref!r}{hint}"
            )


_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}


def _describe(error: Any) -> str:
    """Turn a jsonschema error into 'key.path must be ..., got ...'."""
    where = ".".join(str(p) for p in error.absolute_path)
    subject = where or "the top level"
    value = error.instance
    kind = error.validator
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected)
        return f"{subject} must be {wanted}, got {_show(value)}"
    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in value if k not in allowed]
        key = str(extras[0])  # YAML allows non-string keys: `? ` is {None: None}
        full = f"{where}.{key}" if where else key
        suggestion = did_you_mean(key, allowed) or (
            f" (allowed: {', '.join(allowed)})" if allowed else ""
        )
        return f"unknown key '{full}'{suggestion}"
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        return f"{subject} is missing the required key '{missing[0]}'"
    if kind == "enum":
        options = [o if isinstance(o, str) else json.dumps(o) for o in error.validator_value]
        return (
            f"{subject} must be one of {', '.join(options)}, got {_show(value)}"
            f"{did_you_mean(str(value), options)}"
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[
            kind
        ]
        return f"{subject} must be {op} {error.validator_value}, got {_show(value)}"
    if kind == "minLength" and error.validator_value == 1:
        return f"{subject} must not be empty"
    if kind == "uniqueItems":
        return f"{subject} lists the same entry twice"
    if hint:
        return (
            f"{subject} must be {hint}, got {_show(value)}"
            if kind != "not"
            else f"{subject}: {hint}"
        )
    return f"{subject}: {error.message}"


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _kind(value)
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _validation(section: dict[str, Any]) -> ValidationConfig:
    return ValidationConfig(
        **{
            **section,
            "column_max_missing_share": dict(section.get("column_max_missing_share") or {}),
            "labels": LabelRules(**(section.get("labels") or {})),
            "skew": SkewRules(**(section.get("skew") or {})),
        }
    )


def _build(raw: dict[str, Any], path: Path) -> Config:
    root = path.parent
    data = raw["data"]

    def resolved(key: str) -> Path | None:
        return (root / data[key]).resolve() if data.get(key) else None

    task = raw["task"]
    model = raw.get("model") or {}
    gate = raw.get("gate") or {}
    package = raw.get("package") or {}
    return Config(
        name=raw["name"],
        task=task,
        description=raw.get("description", ""),
        path=path,
        raw=copy.deepcopy(raw),
        data=DataConfig(
            train=resolved("train"),
            test=resolved("test"),
            target=data["target"],
            features=tuple(data["features"]) if data.get("features") else None,
            drop=tuple(data.get("drop") or ()),
            split=SplitConfig(**(data.get("split") or {})),
            schema=resolved("schema"),
            delimiter=data.get("delimiter", ","),
            encoding=data.get("encoding", "utf-8"),
            source=_source(data.get("source"), root),
        ),
        model=ModelConfig(
            estimator=model.get("estimator")
            or (None if model.get("factory") else DEFAULT_ESTIMATORS[task]),
            params=dict(model.get("params") or {}),
            factory=model.get("factory"),
        ),
        gate=GateConfig(
            baseline=gate.get("baseline"),
            metrics={
                name: MetricRule(**rule) for name, rule in (gate.get("metrics") or {}).items()
            },
            slices=tuple(SliceRule(**item) for item in gate.get("slices") or ()),
            confidence=gate.get("confidence"),
            resamples=gate.get("resamples", 1000),
            seed=gate.get("seed", 0),
            budgets=Budgets(**(gate.get("budgets") or {})),
        ),
        github=GitHubConfig(**(raw.get("github") or {})),
        validation=_validation(raw.get("validation") or {}),
        package=PackageConfig(
            **{k: v for k, v in package.items() if k != "parity"},
            parity=ParityConfig(**(package.get("parity") or {})),
        ),
        drift=_drift(raw.get("drift") or {}, root),
        deploy=_deploy(raw.get("deploy") or {}, root),
        compute=ComputeConfig(**(raw.get("compute") or {})),
        tune=_tune(raw.get("tune") or {}),
        tracking=_tracking(raw.get("tracking") or {}, root),
    )


def _tracking(raw: dict[str, Any], root: Path) -> TrackingConfig:
    uri = raw.get("uri")
    if uri is not None and "://" not in uri and not uri.startswith(("file:", "databricks")):
        uri = (root / uri).resolve().as_uri()
    return TrackingConfig(uri=uri, experiment=raw.get("experiment"))


def _tune(raw: dict[str, Any]) -> TuneConfig:
    return TuneConfig(
        trials=tuple(dict(trial) for trial in raw.get("trials") or ()),
        grid={key: tuple(values) for key, values in (raw.get("grid") or {}).items()},
        metric=raw.get("metric"),
    )


def _deploy(raw: dict[str, Any], root: Path) -> DeployConfig:
    """A local registry folder resolves against the config's folder; URLs stay as written."""
    targets = {}
    for name, target in (raw.get("targets") or {}).items():
        url = target.get("url")
        if url is not None and target["type"] == "registry" and "://" not in url:
            url = str((root / url).resolve())
        targets[name] = DeployTarget(name=name, **{**target, "url": url})
    if "protected_aliases" not in raw:
        return DeployConfig(targets=targets)
    return DeployConfig(targets=targets, protected_aliases=tuple(raw["protected_aliases"]))


def _source(value: str | None, root: Path) -> str | None:
    if not value or "://" in value:
        return value or None
    return str(root / value) if any(c in value for c in "*?[") else str((root / value).resolve())


def _reference(value: str | None, root: Path) -> Path | str | None:
    if not value or value.startswith("registry:"):
        return value or None
    return (root / value).resolve()


def _drift(raw: dict[str, Any], root: Path) -> DriftConfig:
    fields = {
        k: v
        for k, v in raw.items()
        if k not in ("reference", "columns", "calibrate", "alerts", "verdict")
    }
    return DriftConfig(
        **fields,
        reference=_reference(raw.get("reference"), root),
        columns={
            name: DriftColumnConfig(**spec) for name, spec in (raw.get("columns") or {}).items()
        },
        calibrate=DriftCalibrateConfig(**(raw.get("calibrate") or {})),
        alerts=DriftAlertsConfig(**(raw.get("alerts") or {})),
        verdict=DriftVerdictConfig(**(raw.get("verdict") or {})),
    )
