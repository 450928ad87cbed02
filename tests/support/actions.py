"""Shared by the action tests and the stories: drifted data, the fake GitHub's view of a run."""

from __future__ import annotations

from pathlib import Path


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
