"""A local stand-in for GitHub Actions, so tests exercise the action.yml and workflow wiring itself.

``Runner`` runs a composite action or one job's steps; ``Simulation`` runs whole workflows on
events, each job on its own fresh machine, as GitHub does (see simulation.py).
"""

from .expressions import ExpressionError, condition, evaluate, interpolate
from .repository import UserRepository
from .runner import ActionRun, HarnessError, Runner, StepRecord, parse_command_file
from .simulation import Clock, Job, Simulation, WorkflowRun

__all__ = [
    "ActionRun",
    "Clock",
    "ExpressionError",
    "HarnessError",
    "Job",
    "Runner",
    "Simulation",
    "StepRecord",
    "UserRepository",
    "WorkflowRun",
    "condition",
    "evaluate",
    "interpolate",
    "parse_command_file",
]
