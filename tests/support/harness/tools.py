"""The GitHub-provided actions a job's state travels through, emulated with their documented rules.

- ``actions/checkout``: the git commands the action runs (``fetch-depth: 1`` fetches only the
  event's commit, ``0`` every branch and tag), from the simulated repository's origin.
- ``actions/upload-artifact`` / ``download-artifact`` (v4): a per-run store keyed by name; the
  ``path`` lines (globs, ``!`` exclusions, the least common ancestor as the artifact's root),
  ``if-no-files-found``, ``include-hidden-files`` (a hidden file or folder anywhere below the
  search path, the search path itself included, is left out), one upload per name unless
  ``overwrite``; downloads by name into ``path``, or every artifact into ``path/<name>/``, or
  from another run with ``run-id`` and ``github-token``.
- ``actions/cache`` (and ``/restore``, ``/save``): entries per repository, keyed by ``key`` and
  the ``path`` lines, immutable once saved, visible to runs on the ref that saved them and on
  the default branch's ref; saved in the post step of a successful job on a miss.

A path on the runner machine (its home, workspace, temp) is stored relative to the machine, as
every GitHub runner has the same layout; anything else is refused.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import hashlib
import io
import itertools
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Runner

_MAGIC = set("*?[")


class ToolFailed(Exception):
    """The tool action failed as the real one would, with its message."""


@dataclasses.dataclass
class Machine:
    """One runner machine's folders; like a hosted runner, the same layout on every machine."""

    root: Path
    repository: str

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def temp(self) -> Path:
        return self.root / "work" / "_temp"

    @property
    def tool_cache(self) -> Path:
        return self.root / "hostedtoolcache"

    @property
    def workspace(self) -> Path:
        name = self.repository.split("/")[1]
        return self.root / "work" / name / name

    def create(self) -> Machine:
        for folder in (self.home, self.temp, self.tool_cache, self.workspace):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            raise ToolFailed(f"{path}: not on the runner machine ({self.root})") from None


# ---- artifacts ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Artifact:
    id: int
    name: str
    folder: Path  # the files, laid out as the artifact's zip holds them

    def files(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.folder)): p.read_bytes()
            for p in sorted(self.folder.rglob("*"))
            if p.is_file()
        }

    def zip(self) -> bytes:
        """The zip GitHub serves for the artifact (``actions/download-artifact`` API)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files().items():
                archive.writestr(name, data)
        return buffer.getvalue()


class ArtifactStore:
    """Every artifact of every run, by run id then name."""

    def __init__(self, root: Path):
        self.root = root
        self.runs: dict[str, dict[str, Artifact]] = {}
        self._ids = itertools.count(1)

    def of(self, run_id: str) -> dict[str, Artifact]:
        return self.runs.setdefault(str(run_id), {})

    def put(
        self, run_id: str, name: str, files: Mapping[str, Path], *, overwrite: bool
    ) -> Artifact:
        store = self.of(run_id)
        if name in store and not overwrite:
            raise ToolFailed(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) "
                "Conflict: an artifact with this name already exists on the workflow run"
            )
        artifact = Artifact(next(self._ids), name, self.root / str(run_id) / name)
        shutil.rmtree(artifact.folder, ignore_errors=True)
        for rel, source in files.items():
            target = artifact.folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        artifact.folder.mkdir(parents=True, exist_ok=True)
        store[name] = artifact
        return artifact


def _has_magic(part: str) -> bool:
    return bool(_MAGIC & set(part))


def _search_path(pattern: Path) -> Path:
    """The part of a pattern before its first wildcard segment (where the search starts)."""
    parts = []
    for part in pattern.parts:
        if _has_magic(part):
            break
        parts.append(part)
    return Path(*parts)


def find_files(
    lines: list[str], base: Path, *, include_hidden: bool
) -> tuple[dict[str, Path], Path]:
    """upload-artifact's search: the files matched and the root their names are relative to."""
    includes = [line for line in lines if not line.startswith("!")]
    excludes = [os.path.normpath(base / line[1:].strip()) for line in lines if line.startswith("!")]
    found: dict[Path, Path] = {}  # file -> its search path
    searches = []
    for line in includes:
        pattern = Path(os.path.normpath(base / os.path.expanduser(line)))
        search = _search_path(pattern)
        searches.append(search)
        matches = (
            [Path(p) for p in glob.glob(str(pattern), recursive=True, include_hidden=True)]
            if pattern != search
            else ([pattern] if pattern.exists() else [])
        )
        for match in matches:
            for file in [match] if match.is_file() else sorted(match.rglob("*")):
                if file.is_file() and (include_hidden or not _hidden_below(file, search)):
                    found.setdefault(file, search)
    files = {
        f: s for f, s in found.items() if not any(fnmatch.fnmatch(str(f), e) for e in excludes)
    }
    if not searches:
        return {}, base
    if len(searches) == 1:
        root = searches[0] if searches[0].is_dir() else searches[0].parent
    else:
        root = Path(os.path.commonpath(searches))
    return {str(f.relative_to(root)): f for f in sorted(files)}, root


def _hidden_below(file: Path, search: Path) -> bool:
    """@actions/glob's excludeHiddenFiles: any name from the search path down starts with '.'."""
    parts = file.relative_to(search.parent).parts if search != search.parent else file.parts
    return any(part.startswith(".") for part in parts)


# ---- cache ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class CacheEntry:
    key: str
    version: str
    ref: str
    folder: Path
    paths: list[str]


class CacheStore:
    """The repository's caches, newest last."""

    def __init__(self, root: Path, default_ref: str):
        self.root = root
        self.default_ref = default_ref
        self.entries: list[CacheEntry] = []

    def find(self, key: str, restore_keys: list[str], version: str, ref: str) -> CacheEntry | None:
        visible = [
            e
            for e in reversed(self.entries)
            if e.version == version and e.ref in (ref, self.default_ref)
        ]
        for entry in visible:
            if entry.key == key:
                return entry
        for prefix in restore_keys:
            for entry in visible:
                if entry.key.startswith(prefix):
                    return entry
        return None

    def exists(self, key: str, version: str, ref: str) -> bool:
        return any(e.key == key and e.version == version and e.ref == ref for e in self.entries)

    def add(self, entry: CacheEntry) -> None:
        self.entries.append(entry)


def cache_version(paths: list[str]) -> str:
    """actions/cache's version: the paths as written (and the compression), so they must match."""
    return hashlib.sha256("|".join([*paths, "gzip"]).encode()).hexdigest()


# ---- the toolbox a job's runner calls -------------------------------------------------------------
@dataclasses.dataclass
class ToolBox:
    """What the tool actions of one job reach: its run's artifacts, the repository's caches, origin."""

    machine: Machine
    origin: Path
    run_id: str
    ref: str
    sha: str
    artifacts: ArtifactStore
    caches: CacheStore

    def run(
        self, action: str, with_: Mapping[str, str], runner: Runner
    ) -> tuple[dict[str, str], str]:
        """Run one tool action: its outputs and what it printed; ToolFailed when it fails."""
        handler = {
            "actions/checkout": self.checkout,
            "actions/upload-artifact": self.upload_artifact,
            "actions/download-artifact": self.download_artifact,
            "actions/cache": self.cache,
            "actions/cache/restore": self.cache,
            "actions/cache/save": self.cache,
        }[action]
        lines: list[str] = []
        outputs = handler(dict(with_), runner, lines, action)
        return outputs, "".join(f"{line}\n" for line in lines)

    def _path(self, runner: Runner, value: str, default: Path) -> Path:
        if not value:
            return default
        expanded = value.replace("~", str(self.machine.home), 1) if value.startswith("~") else value
        return (runner.workspace / expanded).resolve()

    # -- actions/checkout
    def checkout(
        self, with_: dict[str, str], runner: Runner, lines: list[str], _: str
    ) -> dict[str, str]:
        wanted = with_.get("repository") or runner.repository
        if wanted != runner.repository:
            raise ToolFailed(
                f"actions/checkout: only the run's repository is served here, not {wanted}"
            )
        where = self._path(runner, with_.get("path", ""), runner.workspace)
        depth = int(with_.get("fetch-depth") or 1)
        ref, sha = self.ref, self.sha
        if with_.get("ref"):
            ref, sha = _resolve(self.origin, with_["ref"])
        env = runner.process_env()

        def git(*args: str) -> None:
            lines.append("git " + " ".join(args))
            proc = subprocess.run(
                ["git", *args], cwd=where, env=env, capture_output=True, text=True
            )
            if proc.returncode:
                raise ToolFailed(f"git {' '.join(args)} failed: {proc.stderr.strip()}")

        where.mkdir(parents=True, exist_ok=True)
        if any(where.iterdir()):
            raise ToolFailed(f"actions/checkout: {where} is not empty on a fresh runner")
        git("init", "-q")
        git("remote", "add", "origin", self.origin.as_uri())
        if ref.startswith("refs/heads/"):
            local = f"refs/remotes/origin/{ref.removeprefix('refs/heads/')}"
        elif ref.startswith("refs/pull/"):
            local = f"refs/remotes/pull/{ref.removeprefix('refs/pull/')}"
        else:
            local = ref if ref.startswith("refs/tags/") else ""
        if depth == 0:
            git(
                "fetch",
                "-q",
                "--prune",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            )
            if local and not local.startswith("refs/remotes/origin/"):
                git("fetch", "-q", "origin", f"+{sha}:{local}")
        else:
            git(
                "fetch",
                "-q",
                "--no-tags",
                f"--depth={depth}",
                "origin",
                f"+{sha}:{local}" if local else sha,
            )
        if local.startswith("refs/remotes/origin/"):
            git("checkout", "-q", "--force", "-B", ref.removeprefix("refs/heads/"), local)
        else:
            git("checkout", "-q", "--force", local or sha)
        return {"ref": ref, "commit": sha}

    # -- actions/upload-artifact, download-artifact
    def upload_artifact(
        self, with_: dict[str, str], runner: Runner, lines: list[str], _: str
    ) -> dict[str, str]:
        name = with_.get("name") or "artifact"
        patterns = [line.strip() for line in with_.get("path", "").splitlines() if line.strip()]
        if not patterns:
            raise ToolFailed("Input required and not supplied: path")
        files, root = find_files(
            patterns, runner.workspace, include_hidden=with_.get("include-hidden-files") == "true"
        )
        if not files:
            message = f"No files were found with the provided path: {' '.join(patterns)}. No artifacts will be uploaded."
            mode = with_.get("if-no-files-found") or "warn"
            if mode == "error":
                raise ToolFailed(message)
            lines.append(f"::warning::{message}" if mode == "warn" else message)
            return {}
        artifact = self.artifacts.put(
            self.run_id, name, files, overwrite=with_.get("overwrite") == "true"
        )
        lines.append(
            f"Artifact {name} has been successfully uploaded: {len(files)} file(s) from {root}"
        )
        digest = hashlib.sha256(b"".join(artifact.files().values())).hexdigest()
        url = f"https://github.com/{runner.repository}/actions/runs/{self.run_id}/artifacts/{artifact.id}"
        return {"artifact-id": str(artifact.id), "artifact-url": url, "artifact-digest": digest}

    def download_artifact(
        self, with_: dict[str, str], runner: Runner, lines: list[str], _: str
    ) -> dict[str, str]:
        target = self._path(runner, with_.get("path", ""), runner.workspace)
        run_id = self.run_id
        if with_.get("run-id") and with_.get("github-token"):
            run_id = with_["run-id"]
        store = self.artifacts.of(run_id)
        name = with_.get("name")
        if name:
            if name not in store:
                raise ToolFailed(
                    f"Unable to download artifact(s): Artifact not found for name: {name}"
                )
            chosen = {name: target}
        else:
            pattern = with_.get("pattern") or "*"
            merge = with_.get("merge-multiple") == "true"
            chosen = {
                n: target if merge else target / n for n in store if fnmatch.fnmatchcase(n, pattern)
            }
        for artifact_name, folder in chosen.items():
            shutil.copytree(store[artifact_name].folder, folder, dirs_exist_ok=True)
            lines.append(f"Artifact {artifact_name} downloaded to {folder}")
        return {"download-path": str(target)}

    # -- actions/cache
    def cache(
        self, with_: dict[str, str], runner: Runner, lines: list[str], action: str
    ) -> dict[str, str]:
        paths = [line.strip() for line in with_.get("path", "").splitlines() if line.strip()]
        key = with_.get("key", "")
        if not paths or not key:
            raise ToolFailed("Input required and not supplied: " + ("path" if not paths else "key"))
        version = cache_version(paths)
        outputs: dict[str, str] = {}
        exact = False
        if action != "actions/cache/save":
            restore_keys = [
                k.strip() for k in with_.get("restore-keys", "").splitlines() if k.strip()
            ]
            entry = self.caches.find(key, restore_keys, version, self.ref)
            exact = entry is not None and entry.key == key
            if entry is not None and with_.get("lookup-only") != "true":
                for index, written in enumerate(entry.paths):
                    _copy(entry.folder / str(index), self.machine.root / written)
                lines.append(f"Cache restored from key: {entry.key}")
            elif entry is None:
                if with_.get("fail-on-cache-miss") == "true":
                    raise ToolFailed(
                        f"Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}"
                    )
                lines.append(f"Cache not found for input keys: {', '.join([key, *restore_keys])}")
            outputs = {"cache-hit": "true" if exact else "false"}
            if action == "actions/cache/restore":
                outputs |= {
                    "cache-primary-key": key,
                    "cache-matched-key": entry.key if entry is not None else "",
                }
        if action == "actions/cache/save":
            lines.append(self.save_cache(key, paths, version, runner))
        elif action == "actions/cache" and not exact:
            runner.post_steps.append(
                (
                    f"Post {action}",
                    lambda ok: self.save_cache(key, paths, version, runner) if ok else "",
                )
            )
        return outputs

    def save_cache(self, key: str, paths: list[str], version: str, runner: Runner) -> str:
        if self.caches.exists(key, version, self.ref):
            return f"::warning::Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."
        found = [self._path(runner, p, runner.workspace) for p in paths]
        if not any(p.exists() for p in found):
            return "::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved."
        folder = (
            self.caches.root
            / hashlib.sha256(f"{key}|{version}|{self.ref}".encode()).hexdigest()[:16]
        )
        relative = [self.machine.relative(p) for p in found]
        for index, path in enumerate(found):
            _copy(path, folder / str(index))
        self.caches.add(CacheEntry(key, version, self.ref, folder, relative))
        return f"Cache saved with key: {key}"


def _resolve(origin: Path, ref: str) -> tuple[str, str]:
    """``ref:`` of actions/checkout: a branch, tag or sha in origin -> (full ref, sha)."""
    for full in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"{full}^{{commit}}"],
            cwd=origin,
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            sha = proc.stdout.strip()
            return (full if full.startswith("refs/") else sha), sha
    raise ToolFailed(f"actions/checkout: A branch or tag with the name '{ref}' could not be found")


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    elif source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
