"""A versioned model registry on a local folder, an fsspec URL (``s3://…``) or the GitHub
repository itself (``github://OWNER/REPO``, see ``github_store``).

Layout, numbered like Triton and KServe model repositories::

    <root>/<model>/<version>/model.onnx, model-card.md, metadata.json, .claim
    <root>/<model>/aliases/<alias>.json     {"version": 3, "history": [2, 1], "move": "<id>", ...}
    <root>/<model>/audit/<utc>-<id>.json    one event per object, created once, never rewritten
    <root>/<model>/config.pbtxt             Triton's config, serving the production version

Consistency without a database and without a lock:

* a version number is claimed by creating ``<version>/.claim`` exclusively (a hard link
  locally, ``If-None-Match: *`` on S3, a contents write without ``sha`` on GitHub), so two
  deploys never share a number;
* a version becomes visible only when its ``metadata.json`` is written, last, so a deploy
  killed mid-copy leaves an invisible, skipped number, never a half version; the next
  deploy deletes such a version's files once its claim is ``STALE_AFTER_S`` old, keeping
  the claim so the number is never reused;
* an alias is one small object replaced by compare-and-swap (``If-Match`` on its ETag on
  S3, the blob ``sha`` on GitHub, a compare under ``flock`` locally): a move that finds the alias changed since it read
  it reads again and retries, so no concurrent move is lost, and there is no lock for a
  killed deploy to leave behind or for another deploy to break;
* the audit entry of a change is written *before* the change (the intent), with an id; an
  alias stores the id of the move that set it, and each move entry names the move it
  replaced (``after``). ``history()`` keeps the moves on those chains and the registrations
  of visible versions, so after a kill at any point every alias target has its entry and
  no entry claims a change that never landed.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import hashlib
import json
import os
import random
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from mlops_actions import clock
from mlops_actions.errors import ConfigError, UsageError
from mlops_actions.files import atomic_path, atomic_write_bytes, to_json
from mlops_actions.registry.github_store import GitHubStore
from mlops_actions.registry.triton import CONFIG_FILE, SERVED_ALIAS, model_config, to_pbtxt
from mlops_actions.reports import render
from mlops_actions.workdir import ONNX_FILE

METADATA_FILE = "metadata.json"
CLAIM_FILE = ".claim"
WAIT_S = 60.0
"""How long an alias move keeps retrying while other deploys move the same alias."""
STALE_AFTER_S = 24 * 3600.0
"""A version still incomplete this long after its claim belongs to a deploy that died."""
_COPY_CHUNK = 1 << 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED = {"aliases", "audit"}


def actor() -> str:
    """Who is deploying: the GitHub user in Actions, else the local login."""
    name = os.environ.get("GITHUB_ACTOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    location: str
    """Folder of the version: a local path or a URL."""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.metadata.get("metrics") or {}

    @property
    def sha256(self) -> str | None:
        return self.metadata.get("sha256")


@dataclass(frozen=True)
class Alias:
    name: str
    version: int
    history: tuple[int, ...] = ()
    """Versions the alias pointed at before, newest first: what rollback returns to."""
    updated_at: str | None = None
    actor: str | None = None
    move: str | None = None
    """Id of the audit entry of the move that set the alias."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.name,
            "version": self.version,
            "history": list(self.history),
            "updated_at": self.updated_at,
            "actor": self.actor,
            "move": self.move,
        }


@dataclass(frozen=True)
class Move:
    """One alias move, as the audit log records it."""

    alias: str
    from_version: int | None
    to_version: int
    event: dict[str, Any]


class Registry:
    """Versions, aliases and the audit log of every model under one root."""

    def __init__(
        self, url: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        text = os.fspath(url)
        self.url = text.rstrip("/") or text
        options = dict(storage_options or {})
        self._store: _Store
        if text.startswith("github://"):
            self._store = GitHubStore(text, options)
            self.url = self._store.url
        elif "://" in text and not text.startswith("file://"):
            self._store = _FsspecStore(text, options)
        else:
            self._store = _LocalStore(Path(text.removeprefix("file://")))

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    # -- reading -----------------------------------------------------------------------

    def models(self) -> list[str]:
        return sorted(n for n in self._store.list("") if _NAME.match(n))

    def versions(self, model: str) -> list[ModelVersion]:
        """Every complete version, oldest first, with its metadata (metrics for a trend)."""
        return self._scan(model)[0]

    def version(self, model: str, version: int) -> ModelVersion:
        _check_name(model, "model")
        raw = self._store.read(f"{model}/{int(version)}/{METADATA_FILE}")
        if raw is None:
            known = ", ".join(str(v.version) for v in self.versions(model)) or "none"
            raise UsageError(
                f"registry {self.url}: {model} has no version {version} (versions: {known})"
            )
        return self._version(model, int(version), raw)

    def aliases(self, model: str) -> dict[str, Alias]:
        _check_name(model, "model")
        found = {}
        for name in self._store.list(f"{model}/aliases"):
            if name.endswith(".json"):
                alias = self._alias(model, name.removesuffix(".json"))
                if alias is not None:
                    found[alias.name] = alias
        return dict(sorted(found.items()))

    def alias(self, model: str, alias: str) -> Alias | None:
        _check_name(model, "model")
        _check_alias(alias)
        return self._alias(model, alias)

    def resolve(self, model: str, ref: str | int) -> ModelVersion:
        """A version number, or an alias such as ``production``, to the version it names."""
        text = str(ref)
        if text.isdigit():
            return self.version(model, int(text))
        alias = self.alias(model, text)
        if alias is None:
            known = ", ".join(self.aliases(model)) or "none yet"
            raise UsageError(
                f"registry {self.url}: {model} has no alias {text!r} (aliases: {known}); "
                f"deploy with --stage {text} first"
            )
        return self.version(model, alias.version)

    def history(self, model: str) -> list[dict[str, Any]]:
        """The audit log, oldest first: every change that landed.

        Left out: the entry of a move no alias chain leads to and of a registration whose
        version never became visible (its deploy died, or lost a race and retried).
        """
        _check_name(model, "model")
        names = sorted(n for n in self._store.list(f"{model}/audit") if n.endswith(".json"))
        entries = [json.loads(self._store.read(f"{model}/audit/{n}") or b"{}") for n in names]
        by_id = {e["id"]: e for e in entries if "id" in e}
        landed = set()
        for alias in self.aliases(model).values():
            move = alias.move
            while move is not None and move not in landed:
                landed.add(move)
                move = (by_id.get(move) or {}).get("after")
        visible = {v.version for v in self.versions(model)}
        return [
            e
            for e in entries
            if ("after" not in e or e.get("id") in landed)
            and (e.get("event") != "register" or "id" not in e or e["to_version"] in visible)
        ]

    def read_file(self, version: ModelVersion, name: str) -> bytes:
        data = self._store.read(f"{version.model}/{version.version}/{name}")
        if data is None:
            raise UsageError(
                f"registry {self.url}: {version.model} v{version.version} has no {name}"
            )
        return data

    def local_copy(self, version: ModelVersion, dest: str | os.PathLike[str]) -> Path:
        """Path of the version's ``model.onnx`` on this machine (downloaded into ``dest`` if remote)."""
        local = self._store.local_path(f"{version.model}/{version.version}/{ONNX_FILE}")
        if local is not None:
            return local
        target = Path(dest) / version.model / str(version.version) / ONNX_FILE
        if not target.exists():
            atomic_write_bytes(target, self.read_file(version, ONNX_FILE))
        return target

    # -- writing -------------------------------------------------------------------------

    def register(
        self,
        model: str,
        files: Mapping[str, str | os.PathLike[str]],
        metadata: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Store ``files`` as the next version, or return the version already holding the same model.

        ``metadata['sha256']`` identifies the model, so a rerun of the same deploy reuses its
        version. Returns ``(version, created)``.
        """
        _check_name(model, "model")
        if ONNX_FILE not in files:
            raise UsageError(f"registry {self.url}: a version needs {ONNX_FILE}")
        sha = metadata.get("sha256")
        versions, incomplete = self._scan(model)
        for existing in versions:
            if sha and existing.sha256 == sha:
                return existing, False
        for number in incomplete:
            self._clean_if_stale(model, number)
        number = self._claim(model, max([*incomplete, *(v.version for v in versions)], default=0))
        prefix = f"{model}/{number}"
        for name, source in files.items():
            self._store.copy_in(source, f"{prefix}/{name}")
        record = {
            **metadata,
            "model": model,
            "version": number,
            "created_at": clock.iso(),
            "files": sorted(files),
        }
        self.record(
            model, {"event": "register", "to_version": number, "sha256": sha, **(context or {})}
        )
        raw = to_json(record).encode()
        self._store.write(f"{prefix}/{METADATA_FILE}", raw)  # last: the version is complete
        config = f"{model}/{CONFIG_FILE}"
        if self._store.read(config) is None:  # Triton's first version, unless one is served
            data = _triton_config(model, number, Path(files[ONNX_FILE]).read_bytes())
            if data is not None:
                self._store.create(config, data)
        return self._version(model, number, raw), True

    def set_alias(
        self,
        model: str,
        alias: str,
        version: int,
        *,
        event: str = "promote",
        context: Mapping[str, Any] | None = None,
    ) -> Move:
        """Point ``alias`` at ``version`` (which must exist), remembering where it pointed before."""
        _check_alias(alias)
        self.version(model, version)

        def target(current: Alias | None) -> tuple[int, tuple[int, ...]]:
            if current is None:
                return version, ()
            if current.version == version:
                return version, current.history
            return version, (
                current.version,
                *(v for v in current.history if v != current.version),
            )

        return self._move(model, alias, target, event, context)

    def rollback(self, model: str, alias: str, *, context: Mapping[str, Any] | None = None) -> Move:
        """Move ``alias`` back to the version it pointed at before the current one."""
        _check_alias(alias)

        def target(current: Alias | None) -> tuple[int, tuple[int, ...]]:
            if current is None:
                raise UsageError(
                    f"registry {self.url}: {model} has no alias {alias!r}; nothing to roll back"
                )
            if not current.history:
                raise UsageError(
                    f"registry {self.url}: {model}:{alias} has only ever pointed at version "
                    f"{current.version}; nothing to roll back to"
                )
            previous, *rest = current.history
            return previous, tuple(rest)

        return self._move(model, alias, target, "rollback", context)

    def record(self, model: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append one event, with a new id, to the model's audit log (changes record themselves)."""
        record = {
            "at": clock.iso(),
            "actor": actor(),
            "model": model,
            **event,
            "id": uuid.uuid4().hex,
        }
        stamp = clock.stamp()
        name = f"{model}/audit/{stamp}-{record['id']}.json"
        if not self._store.create(name, to_json(record).encode()):
            raise RuntimeError(f"audit entry {name} exists already")  # a uuid collision: a bug
        return record

    # -- internals -------------------------------------------------------------------------

    def _move(
        self,
        model: str,
        alias: str,
        target: Callable[[Alias | None], tuple[int, tuple[int, ...]]],
        event: str,
        context: Mapping[str, Any] | None,
    ) -> Move:
        """Record the move, then swap the alias if nobody moved it since it was read; else again."""
        key = f"{model}/aliases/{alias}.json"
        deadline = time.monotonic() + WAIT_S
        while True:
            found = self._store.read_tagged(key)
            current = None if found is None else _parse_alias(alias, found[0])
            version, history = target(current)
            record = self.record(
                model,
                {
                    "event": event,
                    "alias": alias,
                    "from_version": current.version if current else None,
                    "to_version": version,
                    "after": current.move if current else None,
                    **(context or {}),
                },
            )
            moved = Alias(alias, version, history, clock.iso(), record["actor"], record["id"])
            data = to_json(moved.to_dict()).encode()
            if self._store.replace(key, data, None if found is None else found[1]):
                if alias == SERVED_ALIAS:
                    self._serve(model)
                return Move(alias, record["from_version"], version, record)
            if time.monotonic() > deadline:
                raise UsageError(
                    f"registry {self.url}: {model}:{alias} kept moving under other deploys for "
                    f"{WAIT_S:.0f} s; retry later"
                )
            time.sleep(random.uniform(0.01, 0.1))  # apart, so racing deploys do not collide again

    def _serve(self, model: str) -> None:
        """Point Triton's ``config.pbtxt`` at the version at ``SERVED_ALIAS``: replaced by
        compare-and-swap after reading the alias, so when moves race the last one's stands."""
        key = f"{model}/{CONFIG_FILE}"
        while True:
            found = self._store.read_tagged(key)
            served = self._alias(model, SERVED_ALIAS)
            version = self.version(model, served.version)
            data = _triton_config(model, version.version, self.read_file(version, ONNX_FILE))
            if data is None or (found is not None and found[0] == data):
                return
            if self._store.replace(key, data, None if found is None else found[1]):
                return

    def _scan(self, model: str) -> tuple[list[ModelVersion], list[int]]:
        """Complete versions (oldest first) and the numbers claimed by deploys not (yet) complete."""
        _check_name(model, "model")
        found, incomplete = [], []
        for name in self._store.list(model):
            if name.isdigit():
                raw = self._store.read(f"{model}/{name}/{METADATA_FILE}")
                if raw is None:
                    incomplete.append(int(name))
                else:
                    found.append(self._version(model, int(name), raw))
        return sorted(found, key=lambda v: v.version), sorted(incomplete)

    def _clean_if_stale(self, model: str, number: int) -> None:
        """Delete the files of a version whose deploy died, keeping its claim (the number stays used)."""
        prefix = f"{model}/{number}"
        claim = self._store.read(f"{prefix}/{CLAIM_FILE}")
        try:
            claimed = datetime.fromisoformat(json.loads(claim or b"{}")["at"])
        except (ValueError, KeyError, TypeError):
            return  # not a claim this code wrote: leave it to a human
        if (clock.now() - claimed).total_seconds() < STALE_AFTER_S:
            return  # maybe still copying
        for name in self._store.list(prefix):
            if name != CLAIM_FILE:
                self._store.delete(f"{prefix}/{name}")

    def _claim(self, model: str, highest: int) -> int:
        """The next free number above ``highest``, taken exclusively."""
        number = highest + 1
        while not self._store.create(f"{model}/{number}/{CLAIM_FILE}", _owner().encode()):
            number += 1
        return number

    def _version(self, model: str, number: int, raw: bytes) -> ModelVersion:
        return ModelVersion(
            model, number, self._store.location(f"{model}/{number}"), json.loads(raw)
        )

    def _alias(self, model: str, alias: str) -> Alias | None:
        raw = self._store.read(f"{model}/aliases/{alias}.json")
        return None if raw is None else _parse_alias(alias, raw)


def _triton_config(model: str, version: int, onnx_bytes: bytes) -> bytes | None:
    """``config.pbtxt`` for Triton to serve ``version`` (see registry.triton); None if not ONNX."""
    try:
        config = model_config(model, onnx_bytes, versions=[version])
    except Exception:  # not an ONNX graph (onnx raises its own classes): nothing to serve
        return None
    return to_pbtxt(config).encode()


def _parse_alias(alias: str, raw: bytes) -> Alias:
    doc = json.loads(raw)
    return Alias(
        alias,
        int(doc["version"]),
        tuple(doc.get("history") or ()),
        doc.get("updated_at"),
        doc.get("actor"),
        doc.get("move"),
    )


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name) or name in _RESERVED:
        raise UsageError(
            f"registry {what} name {name!r} must be letters, digits, '.', '_' or '-' "
            f"(not {' or '.join(sorted(_RESERVED))})"
        )


def _check_alias(alias: str) -> None:
    _check_name(alias, "alias")
    if alias.isdigit():
        raise UsageError(
            f"registry alias {alias!r} is a number, which names a version; pick a word such as 'production'"
        )


def _owner() -> str:
    return json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "at": clock.iso(), "actor": actor()}
    )


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``: the kernel releases it when its holder dies."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UsageError(
                        f"registry lock {path} held for over {WAIT_S:.0f} s by another deploy; retry later"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# -- storage ---------------------------------------------------------------------------------


class _Store(Protocol):
    """What the registry needs from a file system."""

    def list(self, prefix: str) -> list[str]: ...
    def read(self, key: str) -> bytes | None: ...
    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        """The content and a tag that changes whenever the content does (S3: the ETag)."""

    def write(self, key: str, data: bytes) -> None: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def replace(self, key: str, data: bytes, tag: str | None) -> bool:
        """Write only if the object still has ``tag`` (``None``: does not exist); False if not."""

    def delete(self, key: str) -> None: ...
    def copy_in(self, source: str | os.PathLike[str], key: str) -> None: ...
    def location(self, key: str) -> str: ...
    def local_path(self, key: str) -> Path | None: ...


class _LocalStore(_Store):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def list(self, prefix: str) -> list[str]:
        try:
            return os.listdir(self._path(prefix))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        data = self.read(key)
        return None if data is None else (data, hashlib.sha256(data).hexdigest())

    def write(self, key: str, data: bytes) -> None:
        atomic_write_bytes(self._path(key), data)

    def replace(self, key: str, data: bytes, tag: str | None) -> bool:
        path = self._path(key)
        with _flock(path.with_name(f".{path.name}.lock")):
            found = self.read_tagged(key)
            if (found and found[1]) != tag:
                return False
            atomic_write_bytes(path, data)
            return True

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def create(self, key: str, data: bytes) -> bool:
        """Write the whole file beside, then hard-link it in: ``link`` fails if the name exists."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, target)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def copy_in(self, source: str | os.PathLike[str], key: str) -> None:
        with atomic_path(self._path(key)) as tmp, open(source, "rb") as src, open(tmp, "wb") as dst:
            for block in iter(lambda: src.read(_COPY_CHUNK), b""):
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())

    def location(self, key: str) -> str:
        return str(self._path(key))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class _FsspecStore(_Store):
    """Object storage through fsspec; S3 gives atomic single PUTs and conditional ones
    (``If-None-Match: *`` creates, ``If-Match: <ETag>`` replaces)."""

    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        try:
            import fsspec
        except ImportError:
            raise ConfigError(
                f"registry {url}: remote registries need the s3 extra: pip install 'mlops-actions[s3]'"
            ) from None
        protocol, _, path = url.partition("://")
        try:
            self.fs = fsspec.filesystem(
                protocol, skip_instance_cache=True, use_listings_cache=False, **storage_options
            )
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"registry {url}: cannot open {protocol}:// storage: {exc}") from None
        self.protocol = protocol
        self.root = path.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def list(self, prefix: str) -> list[str]:
        try:
            entries = self.fs.ls(self._path(prefix), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]

    def read(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        while True:
            try:
                with self.fs.open(self._path(key), "rb") as fh:  # reads send If-Match: <ETag>
                    return fh.read(), fh.details["ETag"]
            except FileNotFoundError:
                return None
            except OSError as exc:
                if not _lost_race(exc):
                    raise  # else it changed between the HEAD and the GET: read again

    def write(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def create(self, key: str, data: bytes) -> bool:
        try:
            self.fs.pipe_file(self._path(key), data, mode="create")  # S3: If-None-Match: *
        except FileExistsError:
            return False
        return True

    def replace(self, key: str, data: bytes, tag: str | None) -> bool:
        if tag is None:
            return self.create(key, data)
        try:
            self.fs.pipe_file(self._path(key), data, IfMatch=tag)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if _lost_race(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def copy_in(self, source: str | os.PathLike[str], key: str) -> None:
        self.fs.put_file(os.fspath(source), self._path(key))

    def location(self, key: str) -> str:
        return f"{self.protocol}://{self._path(key)}"

    def local_path(self, key: str) -> Path | None:
        return None


def _lost_race(exc: OSError) -> bool:
    """S3 refused a conditional request: 412 (the ETag changed), 409 (a concurrent write), or
    s3fs saw the object change between its HEAD and its GET (``FileExpired``, ``EBUSY``)."""
    cause = getattr(exc.__cause__, "response", None) or {}
    code = cause.get("Error", {}).get("Code")
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or exc.errno == errno.EBUSY


def describe(registry: Registry, model: str, action: str = "list", ref: str | None = None) -> str:
    """Markdown for ``mlops registry list`` (versions, metrics, aliases) or ``show`` (one version, history)."""

    versions = registry.versions(model)
    aliases = registry.aliases(model)
    aliases_of: dict[int, list[str]] = {v.version: [] for v in versions}
    for alias in aliases.values():
        aliases_of.setdefault(alias.version, []).append(alias.name)
    shown = None
    if action == "show" and versions:
        shown = registry.resolve(model, ref) if ref is not None else versions[-1]
    metric_names = sorted({name for v in versions for name in v.metrics})
    return render(
        "registry.md.j2",
        url=registry.url,
        model=model,
        action=action,
        versions=versions,
        aliases=aliases,
        aliases_of=aliases_of,
        metric_names=metric_names,
        shown=shown,
        metadata=to_json(dict(shown.metadata)) if shown else None,
        history=registry.history(model) if action == "show" else [],
    )
