"""mlops-actions: composable GitHub Actions and one CLI for CI-native MLOps.

The public surface is what ``__all__`` lists: the six stages (and init, rollback, drift-alert, data-watch) with their
typed results, the config loader, the packaged model, the registry and every error class.
Importing the package stays cheap, because every CLI step is a fresh process: the error
classes load with it, the rest on first use, and pandas, scikit-learn, onnx and pandera only
inside the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mlops_actions.errors import (
    CheckFailed,
    ConfigError,
    DataError,
    DeployFailed,
    DriftDetected,
    GateFailed,
    GitHubError,
    MlopsError,
    ModelError,
    ParityFailed,
    ReportRefused,
    UsageError,
    ValidationFailed,
)

TYPE_CHECKING = False  # the typing module alone costs milliseconds of every CLI call
if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads these
    from mlops_actions.config import Config, load_config
    from mlops_actions.model import OnnxModel
    from mlops_actions.registry.store import Registry
    from mlops_actions.stages.data_watch import DataWatchResult, data_watch
    from mlops_actions.stages.deploy import DeployResult, deploy
    from mlops_actions.stages.drift_alert import DriftAlertResult, drift_alert
    from mlops_actions.stages.drift_check import DriftResult, drift_check
    from mlops_actions.stages.evaluate_gate import GateResult, evaluate_gate
    from mlops_actions.stages.init import InitResult, init
    from mlops_actions.stages.package_onnx import PackageResult, package_onnx
    from mlops_actions.stages.rollback import RollbackResult, rollback
    from mlops_actions.stages.select_champion import SelectionResult, select_champion
    from mlops_actions.stages.train import TrainResult, train
    from mlops_actions.stages.validate_data import ValidateResult, validate_data

_LAZY = {
    "Config": "mlops_actions.config",
    "load_config": "mlops_actions.config",
    "OnnxModel": "mlops_actions.model",
    "Registry": "mlops_actions.registry.store",
    **dict.fromkeys(("deploy", "DeployResult"), "mlops_actions.stages.deploy"),
    **dict.fromkeys(("drift_check", "DriftResult"), "mlops_actions.stages.drift_check"),
    **dict.fromkeys(("drift_alert", "DriftAlertResult"), "mlops_actions.stages.drift_alert"),
    **dict.fromkeys(("data_watch", "DataWatchResult"), "mlops_actions.stages.data_watch"),
    **dict.fromkeys(("init", "InitResult"), "mlops_actions.stages.init"),
    **dict.fromkeys(("evaluate_gate", "GateResult"), "mlops_actions.stages.evaluate_gate"),
    **dict.fromkeys(("package_onnx", "PackageResult"), "mlops_actions.stages.package_onnx"),
    **dict.fromkeys(("rollback", "RollbackResult"), "mlops_actions.stages.rollback"),
    **dict.fromkeys(("select_champion", "SelectionResult"), "mlops_actions.stages.select_champion"),
    **dict.fromkeys(("train", "TrainResult"), "mlops_actions.stages.train"),
    **dict.fromkeys(("validate_data", "ValidateResult"), "mlops_actions.stages.validate_data"),
}
"""Loaded on first use: importing every stage up front would make ``mlops --help`` about
six times slower than a bare interpreter (measured: 330 ms against 52 ms)."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_actions' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "__version__",
    # configuration
    "Config",
    "load_config",
    # the stages, in pipeline order, each with its result
    "validate_data",
    "ValidateResult",
    "train",
    "TrainResult",
    "evaluate_gate",
    "GateResult",
    "select_champion",
    "SelectionResult",
    "package_onnx",
    "PackageResult",
    "deploy",
    "DeployResult",
    "rollback",
    "RollbackResult",
    "drift_check",
    "DriftResult",
    "drift_alert",
    "DriftAlertResult",
    "data_watch",
    "DataWatchResult",
    "init",
    "InitResult",
    # what the stages hand each other
    "OnnxModel",
    "Registry",
    # errors (see mlops_actions.errors for the tree and exit codes)
    "MlopsError",
    "UsageError",
    "ConfigError",
    "DataError",
    "ModelError",
    "GitHubError",
    "CheckFailed",
    "ValidationFailed",
    "GateFailed",
    "ParityFailed",
    "DriftDetected",
    "DeployFailed",
    "ReportRefused",
]
