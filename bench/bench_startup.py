"""`mlops --help` start-up against an empty interpreter: each CI step is a fresh process."""

from __future__ import annotations

import sys
from pathlib import Path

from harness import command_seconds, report

mlops = Path(sys.executable).with_name("mlops")
ours = command_seconds([str(mlops), "--help"])
bare = command_seconds([sys.executable, "-c", "pass"])
met = report("mlops --help start-up", ours, "python -c pass", bare, target=3)
raise SystemExit(0 if met else 1)
