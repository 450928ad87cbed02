"""What every stage shares: its output folder, its result type, and how results are written."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from mlops_actions.errors import CheckFailed
from mlops_actions.files import atomic_write_json, atomic_write_text
from mlops_actions.workdir import RESULT_FILE, SUMMARY_FILE


@dataclasses.dataclass
class StageResult:
    """Base of every stage's result: JSON for machines, markdown for people, outputs for Actions."""

    stage: ClassVar[str]
    failure: ClassVar[type[CheckFailed]] = CheckFailed
    out_dir: Path

    @property
    def passed(self) -> bool:
        return True

    def failure_message(self) -> str:
        return f"{self.stage} failed; see {self.out_dir / SUMMARY_FILE}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stage"] = self.stage
        data["passed"] = self.passed
        return data

    def outputs(self) -> dict[str, Any]:
        """Step outputs in kebab-case; every stage adds its own."""
        return {"passed": self.passed, "result-file": self.out_dir / RESULT_FILE}

    def summary_markdown(self) -> str:
        raise NotImplementedError

    def annotations(self) -> list[dict[str, Any]]:
        """``{level, message, file?, line?}`` items shown on the PR diff in Actions."""
        return []


def write_result(result: StageResult) -> StageResult:
    """Write ``summary.md`` then ``result.json``: a present result.json means the stage finished."""
    atomic_write_text(result.out_dir / SUMMARY_FILE, result.summary_markdown())
    atomic_write_json(result.out_dir / RESULT_FILE, result.to_dict())
    return result
