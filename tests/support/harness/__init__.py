"""A local stand-in for the Actions runner, so tests exercise the action.yml wiring itself."""

from .expressions import ExpressionError, condition, evaluate, interpolate
from .runner import ActionRun, HarnessError, Runner, StepRecord, parse_command_file

__all__ = [
    "ActionRun",
    "ExpressionError",
    "HarnessError",
    "Runner",
    "StepRecord",
    "condition",
    "evaluate",
    "interpolate",
    "parse_command_file",
]
