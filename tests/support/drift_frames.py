"""Column summaries of whole frames, for tests that compare drift with and without a profile."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

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
