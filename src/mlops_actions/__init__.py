"""mlops-actions: composable GitHub Actions and one CLI for CI-native MLOps.

Importing the package is cheap: the stage functions and their heavy dependencies
(pandas, scikit-learn, onnx, pandera) load on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at start-up; every CLI step pays them
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Config": "mlops_actions.config",
    "load_config": "mlops_actions.config",
    "MlopsError": "mlops_actions.errors",
    "validate_data": "mlops_actions.stages.validate_data",
    "ValidateResult": "mlops_actions.stages.validate_data",
    "train": "mlops_actions.stages.train",
    "TrainResult": "mlops_actions.stages.train",
    "evaluate_gate": "mlops_actions.stages.evaluate_gate",
    "GateResult": "mlops_actions.stages.evaluate_gate",
    "package_onnx": "mlops_actions.stages.package_onnx",
    "PackageResult": "mlops_actions.stages.package_onnx",
    "deploy": "mlops_actions.stages.deploy",
    "DeployResult": "mlops_actions.stages.deploy",
    "rollback": "mlops_actions.stages.rollback",
    "drift_check": "mlops_actions.stages.drift_check",
    "DriftResult": "mlops_actions.stages.drift_check",
    "build_profile": "mlops_actions.drift.profile",
    "OnnxModel": "mlops_actions.model",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_actions' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
