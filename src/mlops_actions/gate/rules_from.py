"""A pull request does not judge itself: the gate's rules come from the base branch.

``--rules-from git:<base sha>`` reads the config file at that commit and judges the candidate
by it: every key that decides the verdict (``VERDICT_KEYS``: the model's name, which the
registry files it under; the task; which data rows are the test rows; the gate's rules,
baseline and significance; the registry targets) is the base branch's. The pull request's
own config trained the candidate; its changes to those keys are listed as proposed, applied
once merged. What this does and does not protect against: docs/evaluate-gate.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlops_actions import gitrepo
from mlops_actions.config import Config, config_from_text
from mlops_actions.errors import UsageError
from mlops_actions.reports import flatten_params

FLAG = "--rules-from"
VERDICT_KEYS = ("name", "task", "data", "gate", "deploy")
"""Top-level config keys the verdict depends on, and so are read from the base branch."""


def load_rules(config: Config, spec: str) -> tuple[Config, dict[str, Any]]:
    """The config at ``git:REF`` (for the verdict) and how ``config`` would change it.

    A config file that does not exist at the ref (the pull request that sets the project up)
    leaves ``config`` in charge, said in ``found`` and in the report.
    """
    if not spec.startswith("git:"):
        raise UsageError(f"{FLAG} {spec}: expected git:REF, e.g. git:<the pull request's base sha>")
    ref = spec[len("git:") :]
    top = gitrepo.repository_at_ref(config.root, spec, ref, flag=FLAG)
    relative = Path(os.path.relpath(config.path, top.resolve())).as_posix()
    if relative.startswith("../"):
        raise UsageError(f"{FLAG} {spec}: {config.path} is outside the repository at {top}")
    source = {
        "spec": spec,
        "commit": gitrepo.commit_of(top, ref),
        "config": relative,
        "found": False,
        "proposed": [],
    }
    text = gitrepo.show(top, ref, relative)
    if text is None:
        return config, source
    base = config_from_text(text, config.path, label=f"{relative} at {ref}")
    if base.task != config.task:
        raise UsageError(
            f"{FLAG} {spec}: this change turns task {base.task!r} into {config.task!r}, so the "
            "base branch's rules cannot judge its model; review it and merge without the gate"
        )
    return base, {**source, "found": True, "proposed": proposed_changes(base.raw, config.raw)}


def proposed_changes(base: Any, proposed: Any) -> list[dict[str, Any]]:
    """Keys under ``VERDICT_KEYS`` whose value differs, as ``key, base, proposed`` rows
    (None where a side lacks the key)."""
    before, after = _verdict_keys(base), _verdict_keys(proposed)
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if _canonical(old) != _canonical(new):
            rows.append({"key": key, "base": old, "proposed": new})
    return rows


def _verdict_keys(doc: Any) -> dict[str, Any]:
    return flatten_params({top: doc.get(top) for top in VERDICT_KEYS})


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
