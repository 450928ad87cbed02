"""Training trials: the ``tune`` section of the config (or a list from the workflow) as named
sets of ``--set`` overrides, and the Actions matrix that trains each on its own runner.

Trials are named ``trial-01``, ``trial-02``, ... in order (listed ``trials`` first, then the
``grid``'s combinations), so the names sort as the config lists them: select-champion's last
tie-break is that order. GitHub runs at most 256 jobs from one matrix; a plan with more is a
config error here, before any runner starts, rather than a run GitHub refuses.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_actions.config import Config, with_overrides
from mlops_actions.errors import ConfigError, MlopsError, UsageError

MAX_MATRIX_JOBS = 256
"""GitHub: "A matrix will generate a maximum of 256 jobs per workflow run"."""
PREFIX = "trial-"


@dataclasses.dataclass(frozen=True)
class Trial:
    name: str
    overrides: Mapping[str, Any]

    def set_lines(self) -> list[str]:
        """The overrides as ``--set KEY=VALUE`` arguments; each value reads back as itself."""
        return [f"{key}={_value_text(value)}" for key, value in self.overrides.items()]


def plan_trials(config: Config, trials: Sequence[Mapping[str, Any]] | None = None) -> list[Trial]:
    """The trials to run: ``trials`` if given (from the workflow), else ``tune.trials`` then
    every combination of ``tune.grid``. Each trial's overrides are checked against the config
    schema now, so a misspelt key fails the plan, not 256 runners."""
    if trials is not None:
        listed, source = [dict(t) for t in trials], "--trials"
    else:
        grid = config.tune.grid
        combos = [
            dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())
        ]
        listed = [dict(t) for t in config.tune.trials] + (combos if grid else [])
        source = f"{config.label}: tune"
    if not listed:
        raise ConfigError(
            f"{source}: no trials; add tune.trials (a list of {{key: value}} overrides) "
            "or tune.grid ({key: [values]}) to the config"
        )
    if len(listed) > MAX_MATRIX_JOBS:
        raise ConfigError(
            f"{source} gives {len(listed)} trials; a GitHub Actions matrix runs at most "
            f"{MAX_MATRIX_JOBS} jobs per workflow run: shorten the list or the grid"
        )
    width = max(2, len(str(len(listed))))
    planned = [Trial(f"{PREFIX}{i:0{width}d}", t) for i, t in enumerate(listed, start=1)]
    for trial in planned:
        try:
            with_overrides(config, trial.set_lines())
        except MlopsError as exc:
            raise ConfigError(f"{source}: {trial.name} {dict(trial.overrides)}: {exc}") from None
    return planned


def parse_trials(text: str) -> list[dict[str, Any]]:
    """``--trials``: a JSON list of override mappings, e.g. ``[{"model.params.max_depth": 4}]``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--trials: not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, list) or not all(isinstance(t, dict) and t for t in value):
        raise UsageError(
            '--trials: expected a JSON list of non-empty objects, e.g. [{"model.params.max_depth": 4}]'
        )
    return value


def matrix(trials: Sequence[Trial]) -> dict[str, Any]:
    """``strategy.matrix`` for the workflow: one ``include`` entry per trial, its overrides as
    the train action's ``set`` input (one KEY=VALUE per line)."""
    return {"include": [{"trial": t.name, "set": "\n".join(t.set_lines())} for t in trials]}


def _value_text(value: Any) -> str:
    """YAML in flow style, which ``--set`` reads back as the same value (``1.0e-05``, ``gini``)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    text = text.removesuffix("\n...").strip()
    if "\n" in text or yaml.safe_load(text) != value:
        raise UsageError(f"trial value {value!r}: cannot be written as one --set line")
    return text
