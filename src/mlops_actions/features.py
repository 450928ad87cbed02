"""Which columns a model reads, of what kind, and the frame it is given.

``model_frame`` is the one place raw data becomes model input, so scikit-learn, ONNX
Runtime and the model server all see the same values: numbers as float64 with NaN for
missing, strings as Python ``str`` with ``''`` for missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlops_actions.data import require_columns
from mlops_actions.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_actions.config import Config

NUMERIC = "numeric"
CATEGORICAL = "categorical"
MAX_LISTED_CATEGORIES = 50


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # NUMERIC or CATEGORICAL
    dtype: str
    categories: tuple[str, ...] | None = None


def infer_features(config: Config, frame: pd.DataFrame) -> list[Feature]:
    """Feature columns and their kinds, from config and the training frame's dtypes."""
    import pandas as pd

    data = config.data
    names = (
        list(data.features)
        if data.features
        else [c for c in frame.columns if c != data.target and c not in data.drop]
    )
    if not names:
        raise ConfigError(
            f"{config.label}: no feature columns: every column of {data.train.name} is the target "
            "or in data.drop; list the inputs in data.features"
        )
    require_columns(frame, names, data.train)
    features = []
    for name in names:
        series = frame[name]
        if series.isna().all():
            raise DataError(
                f"{data.train.name}: column {name!r} has no values in the training rows; "
                "add it to data.drop or fill it"
            )
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        )
        categories = None
        if not numeric:
            values = sorted(as_text(series.dropna()).unique().tolist())
            categories = tuple(values) if len(values) <= MAX_LISTED_CATEGORIES else None
        features.append(
            Feature(str(name), NUMERIC if numeric else CATEGORICAL, str(series.dtype), categories)
        )
    return features


def as_text(series: pd.Series) -> pd.Series:
    """Strings as the model sees them: missing becomes '' and everything else its str()."""
    return series.astype("string").fillna("").astype(object)


def model_frame(
    frame: pd.DataFrame, features: list[Feature], *, source: str = "data"
) -> pd.DataFrame:
    """The frame a model is fed: feature columns only, numeric float64, categorical str."""
    import pandas as pd

    require_columns(frame, [f.name for f in features], source)
    columns: dict[str, Any] = {}
    for feature in features:
        series = frame[feature.name]
        if feature.kind == NUMERIC:
            columns[feature.name] = pd.to_numeric(series, errors="coerce").astype("float64")
        else:
            columns[feature.name] = as_text(series)
    return pd.DataFrame(columns, index=frame.index)


def target_values(config: Config, frame: pd.DataFrame) -> Any:
    """The target as models are trained and scored on it: class labels as str, values as float64."""
    y = frame[config.data.target]
    if config.task == "classification":
        return y.astype(str).to_numpy(dtype=object)
    import pandas as pd

    numeric = pd.to_numeric(y, errors="coerce")
    if numeric.isna().any():
        bad = y[numeric.isna()].iloc[0]
        raise ConfigError(
            f"{config.label}: task is regression but target {config.data.target!r} holds {bad!r}; "
            "use task: classification or fix the data"
        )
    return numeric.to_numpy(dtype="float64")


def features_to_json(features: list[Feature]) -> list[dict[str, Any]]:
    return [asdict(f) for f in features]


def features_from_json(items: list[dict[str, Any]]) -> list[Feature]:
    return [
        Feature(
            i["name"],
            i["kind"],
            i["dtype"],
            tuple(i["categories"]) if i.get("categories") else None,
        )
        for i in items
    ]


def preprocessor(features: list[Feature]) -> Any:
    """Numbers: median impute + scale. Strings: fill '' with the most frequent + one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in features if f.kind == NUMERIC]
    categorical = [f.name for f in features if f.kind != NUMERIC]
    transformers = []
    if numeric:
        transformers.append(
            (
                NUMERIC,
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                CATEGORICAL,
                Pipeline(
                    [
                        ("impute", SimpleImputer(missing_values="", strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
