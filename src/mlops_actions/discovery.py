"""Every model of a repository, and which of them a change touches: ``mlops models``.

A model is a ``mlops.yaml``; what it depends on is read from it, not guessed from folders:
the config itself, its training and test data, its schema and its factory's code. A change
to any of these (a shared data file included) selects every model that reads it, so a pull
request trains exactly the models it can affect, as a workflow matrix.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from mlops_actions import gitrepo
from mlops_actions.config import Config, load_config
from mlops_actions.errors import ConfigError, UsageError

PATTERN = "**/mlops.yaml"
_SKIPPED = {".git", ".mlops", "node_modules", ".venv", "__pycache__"}


@dataclass(frozen=True)
class Model:
    name: str
    config: str  # relative to the repository root, as a workflow's working-directory needs
    folder: str
    reads: tuple[str, ...]  # files and folders the model depends on, repository-relative
    changed: tuple[str, ...] = ()  # the changed files that selected it
    watched: bool = False  # its training data lives outside git (data.source): data-watch

    def matrix_entry(self) -> dict[str, str]:
        return {"name": self.name, "config": Path(self.config).name, "folder": self.folder}


def discover(root: str | Path, *, pattern: str = PATTERN) -> list[Model]:
    """Every config under ``root`` matching ``pattern``, sorted by path; a broken one is exit 2
    naming it (a matrix that silently loses a model would ship nothing for it)."""
    root = Path(root).resolve()
    models = []
    for path in _walk(root, pattern):
        where = path.relative_to(root).as_posix()
        try:
            config = load_config(path)
        except ConfigError as exc:  # its message names the file only by its name: name which one
            message = str(exc)
            raise ConfigError(
                where + message[len(path.name) :] if message.startswith(path.name) else message
            ) from None
        models.append(
            Model(
                name=config.name,
                config=where,
                folder=path.parent.relative_to(root).as_posix() or ".",
                reads=tuple(sorted(_reads(config, path, root))),
                watched=config.data.source is not None,
            )
        )
    names: dict[str, str] = {}
    for model in models:
        if model.name in names:
            raise UsageError(
                f"{model.config}: model name {model.name!r} is also the name in "
                f"{names[model.name]}; names key the registry and the comments, so they differ"
            )
        names[model.name] = model.config
    return models


def _walk(root: Path, pattern: str) -> list[Path]:
    """The files under ``root`` matching ``pattern`` (``**`` spans folders), sorted, never
    entering the skipped folders: a checkout's venv or node_modules is most of its files."""
    wanted = tuple(PurePosixPath(pattern).parts)
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in _SKIPPED]
        where = Path(folder).relative_to(root).parts
        found += [Path(folder, f) for f in files if _matches((*where, f), wanted)]
    return sorted(found)


def _matches(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and _matches(parts[1:], pattern[1:])
    )


def named(models: list[Model], names: list[str]) -> list[Model]:
    """The models called one of ``names``; a name no config has is exit 2 (a dispatch for a
    model renamed or removed since must not pass as nothing to do)."""
    known = {m.name for m in models}
    unknown = sorted(set(names) - known)
    if unknown:
        raise UsageError(
            f"--name {unknown[0]}: no model of that name (the models: {', '.join(sorted(known))})"
        )
    return [m for m in models if m.name in names]


def changed_since(root: str | Path, ref: str) -> list[str]:
    """Files changed between the merge base of ``ref`` and the working tree (committed or not),
    repository-relative."""
    top = gitrepo.repository_at_ref(root, ref, ref, flag="--changed-since")
    base = gitrepo.git(top, "merge-base", ref, "HEAD")
    if base is None:
        raise UsageError(f"--changed-since {ref}: no common history with HEAD; fetch more of it")
    out = gitrepo.git(top, "diff", "--name-only", "--no-renames", base.decode().strip())
    untracked = gitrepo.git(top, "ls-files", "--others", "--exclude-standard")
    names = (out or b"").decode().splitlines() + (untracked or b"").decode().splitlines()
    prefix = Path(root).resolve().relative_to(top).as_posix()
    if prefix != ".":
        names = [n[len(prefix) + 1 :] for n in names if n.startswith(prefix + "/")]
    return sorted(set(names))


def affected(models: list[Model], changed: list[str]) -> list[Model]:
    """The models one of whose inputs is among ``changed``, each with the files that did it."""
    chosen = []
    for model in models:
        hits = tuple(path for path in changed if any(_covers(read, path) for read in model.reads))
        if hits:
            chosen.append(replace(model, changed=hits))
    return chosen


def matrix_json(models: list[Model]) -> str:
    """``{"include": [...]}``, what ``strategy.matrix: ${{ fromJSON(...) }}`` takes."""
    return json.dumps({"include": [m.matrix_entry() for m in models]}, separators=(",", ":"))


def _reads(config: Config, path: Path, root: Path) -> set[str]:
    files = {path, config.data.train}
    files |= {p for p in (config.data.test, config.data.schema) if p is not None}
    if config.model.factory:
        module = config.model.factory.partition(":")[0].replace(".", "/")
        package = config.root / module
        files.add(package if package.is_dir() else config.root / f"{module}.py")
    return {_relative(Path(p), root) for p in files}


def _relative(path: Path, root: Path) -> str:
    resolved = path.resolve() if path.is_absolute() else (root / path).resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:  # outside the repository: no change here can touch it
        return resolved.as_posix()


def _covers(read: str, changed: str) -> bool:
    """A changed file touches a dependency that is that file, a folder holding it, or a glob."""
    return (
        changed == read
        or changed.startswith(read.rstrip("/") + "/")
        or fnmatch.fnmatchcase(changed, read)
    )
