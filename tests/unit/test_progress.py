"""Progress lines: silent for short runs, plain periodic lines in a log, one redrawn line on
a terminal."""

from __future__ import annotations

import io

from mlops_actions.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_run_prints_nothing():
    clock, out = Clock(), io.StringIO()
    progress = Progress("drift-check", total=1000, stream=out, clock=clock)
    for _ in range(10):
        clock.now += 0.4
        progress.add(100)
    progress.close()
    assert out.getvalue() == ""


def test_long_run_in_a_log_prints_periodic_lines_with_rate_and_eta():
    clock, out = Clock(), io.StringIO()
    progress = Progress("drift-check", total=4_000_000, stream=out, clock=clock)
    for _ in range(40):  # 100,000 rows a second for 40 s
        clock.now += 1.0
        progress.add(100_000)
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "drift-check: 500,000 rows of 4,000,000 (12%), 100,000 rows/s, ETA 35s"
    assert lines[1].startswith("drift-check: 2,000,000 rows of 4,000,000 (50%)")  # 15 s later
    assert len(lines) == 4 and lines[-1] == "drift-check: 4,000,000 rows in 40s, 100,000 rows/s"


def test_unknown_total_uses_the_done_share_for_the_eta():
    clock, out = Clock(), io.StringIO()
    progress = Progress("validate-data train", stream=out, clock=clock)
    clock.now = 60.0
    progress.add(3_000_000, share=0.25)
    assert out.getvalue() == "validate-data train: 3,000,000 rows, 50,000 rows/s, ETA 3m00s\n"


def test_terminal_redraws_one_line():
    clock, out = Clock(), Terminal()
    progress = Progress("drift-check", total=100, stream=out, clock=clock)
    for _ in range(20):
        clock.now += 1.0
        progress.add(5)
    progress.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("100 rows in 20s, 5 rows/s\n")
    assert text.count("\r\x1b[K") > 5
