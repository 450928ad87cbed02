"""The few git questions the stages ask: which commit is this, and what did a file hold at a ref."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from mlops_actions.errors import UsageError


def git(where: Path | str, *args: str) -> bytes | None:
    """Standard output of ``git ARGS`` run in ``where``; None when git is missing or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=where, capture_output=True, check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def toplevel(where: Path | str) -> Path | None:
    out = git(where, "rev-parse", "--show-toplevel")
    return Path(out.decode().strip()) if out else None


def is_commit(where: Path | str, ref: str) -> bool:
    return git(where, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is not None


def repository_at_ref(where: Path | str, spec: str, ref: str, *, flag: str = "--baseline") -> Path:
    """The repository root, once ``ref`` (from ``FLAG SPEC``) is known to be a commit there."""
    if not ref:
        raise UsageError(f"{flag} {spec}: needs a ref, e.g. git:main or git:HEAD~1")
    top = toplevel(where)
    if top is None:
        raise UsageError(f"{flag} {spec}: {where} is not inside a git repository")
    if not is_commit(top, ref):
        raise UsageError(
            f"{flag} {spec}: {ref!r} is not a commit, branch or tag here; fetch it first"
        )
    return top


def commit_of(top: Path | str, ref: str) -> str | None:
    """The full sha ``ref`` names."""
    out = git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out.decode().strip() if out else None


def show(top: Path | str, ref: str, path: str) -> bytes | None:
    """A file's bytes at ``ref`` (``path`` relative to the repository root); None if absent."""
    return git(top, "show", f"{ref}:{path}")


def commit_info(where: Path | str) -> dict[str, Any]:
    """The commit being built: Actions' GITHUB_SHA when set, else HEAD, and whether the tree is dirty."""
    sha = os.environ.get("GITHUB_SHA")
    if not sha:
        head = git(where, "rev-parse", "HEAD")
        sha = head.decode().strip() if head else None
    status = git(where, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": sha or None,
        "dirty": bool(status.strip()) if status is not None else None,
        "ref": os.environ.get("GITHUB_REF"),
    }
