"""Shared by the action tests and the level-3 loop: "is this stage on main yet"."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def _missing_reason(command: str) -> str | None:
    from mlops_actions.cli import build_parser

    parser = build_parser()
    choices = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if command not in choices:
        return f"`mlops {command}` is not on main yet (no such subcommand)"
    handler = choices[command].get_default("handler")
    if "_not_yet" in getattr(handler, "__qualname__", ""):
        return f"`mlops {command}` is not on main yet (the CLI still says: {choices[command].description})"
    return None


def require_stage(command: str) -> None:
    """Skip (pending, with the reason) when the stage behind an action has not landed on main."""
    reason = _missing_reason(command)
    if reason:
        pytest.skip(reason)


def drifted_copy(source: Path, target: Path) -> Path:
    """The example's penguins, heavier, longer-billed and all from Biscoe: a shift drift-check must see."""
    import pandas as pd

    frame = pd.read_csv(source)
    frame["body_mass_g"] = frame["body_mass_g"] + 900
    frame["bill_length_mm"] = frame["bill_length_mm"] * 1.25
    frame["flipper_length_mm"] = frame["flipper_length_mm"] + 25
    frame["island"] = "Biscoe"
    frame.to_csv(target, index=False)
    return target


def github_of(fake) -> dict[str, str]:
    """Runner arguments that point a job's GitHub calls at the fake GitHub."""
    return {"api_url": fake.url, "token": fake.token, "repository": fake.repository}
