"""Drift test data: column summaries of whole frames, and a project with birds that drift."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from mlops_actions.drift.columns import ColumnSummary, summarize


class FrameSummaries(Mapping[str, ColumnSummary]):
    """Summaries of a frame's columns, made when asked for and not kept.

    Testing column by column this way holds one column's sorted values at a time instead
    of every column's, which keeps peak memory near the frames' own size.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __getitem__(self, name: str) -> ColumnSummary:
        if name not in self.frame.columns:
            raise KeyError(name)
        return summarize(self.frame[name])

    def __contains__(self, name: object) -> bool:  # Mapping's default would summarise
        return name in self.frame.columns

    def __iter__(self) -> Iterator[str]:
        return (str(c) for c in self.frame.columns)

    def __len__(self) -> int:
        return self.frame.shape[1]


def penguins_and_biscoe_birds(tmp_path: Path) -> Path:
    """The penguins example in ``tmp_path/penguins``, and beside it ``drifted.csv``: the
    training birds of Biscoe island alone, which drift from the rest; the project's folder."""
    from support import copy_example

    project = copy_example("penguins", tmp_path / "penguins")
    train = pd.read_csv(project / "data/train.csv")
    train.query("island == 'Biscoe'").to_csv(tmp_path / "drifted.csv", index=False)
    return project
