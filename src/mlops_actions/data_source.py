"""Training data that lives outside git (``data.source``): its listing, what changed, the copy.

A listing names every file under the source with its size and a hash the store gives:

* ``s3://`` and other fsspec URLs: the object's ETag (S3 computes it; nothing is downloaded);
* ``http(s)://`` URLs: one ``HEAD``, the ``ETag`` or else ``Last-Modified``;
* local files: the sha256 of the content. Not the mtime: a checkout or a copy sets a new one
  on unchanged bytes, and that would look like new data every night.

Rows are given where they are cheap: local CSV files (lines counted while hashing) and
Parquet files (the footer; on a remote store a ranged read of its tail, never the body).

``train`` records the listing in the model's lineage; ``data-watch`` compares the source's
listing now with the one recorded for the last version in the registry.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlops_actions.data import PARQUET_SUFFIXES, is_remote
from mlops_actions.errors import DataError
from mlops_actions.files import atomic_path, atomic_write_json

if TYPE_CHECKING:
    from mlops_actions.config import Config

DATA_SUFFIXES = {*PARQUET_SUFFIXES, ".csv"}
_BLOCK = 1 << 20
SOURCE_STATE = "data-source.json"
"""In the workdir: the listing last copied to data.train, so a second stage copies nothing."""


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def public(source: str) -> str:
    """The source without query string or credentials, fit for a record or a message."""
    if not (is_url(source) or is_remote(source)):
        return source
    parts = urlparse(source)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def listing(source: str) -> dict[str, Any]:
    """``{source, sha256, files: {name: {size, hash, rows}}}`` of every data file under
    ``source`` (a file, folder, glob, http(s) URL or fsspec URL); names relative to it."""
    return _listing(source, _scan(source))


def _listing(source: str, found: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    files = {name: entry for name, (_, entry) in sorted(found.items())}
    body = json.dumps([[n, e["size"], e["hash"]] for n, e in files.items()])
    return {
        "source": public(source),
        "sha256": hashlib.sha256(body.encode()).hexdigest(),
        "files": files,
    }


def _scan(source: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each file's name, where to copy it from, and its entry."""
    if is_url(source):
        return {Path(urlparse(source).path).name or "data": (source, _http_entry(source))}
    if is_remote(source):
        return _remote_entries(source)
    return _local_entries(source)


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Files added, removed and changed (size or hash), and the rows before and after where
    every file's rows are known on both sides."""
    old, new = before.get("files") or {}, after.get("files") or {}
    changed = sorted(
        n
        for n in old.keys() & new.keys()
        if (old[n]["size"], old[n]["hash"]) != (new[n]["size"], new[n]["hash"])
    )
    rows = None
    if old and new and all(e.get("rows") is not None for e in [*old.values(), *new.values()]):
        rows = {
            "before": sum(e["rows"] for e in old.values()),
            "after": sum(e["rows"] for e in new.values()),
        }
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": changed,
        "rows": rows,
    }


def pull_source(
    config: Config, workdir: str | Path, *, if_missing: bool = False
) -> dict[str, Any] | None:
    """Copy ``data.source`` to ``data.train`` when the config has one; the listing copied.

    validate-data and train look at the source each time (train records what it trained
    on); the stages after them (``if_missing``) use the copy they made, and copy only on a
    fresh machine. The listing is taken before the copy: a file replaced in between shows up
    as a change at the next watch, and the model is trained once more."""
    if config.data.source is None or (if_missing and config.data.train.exists()):
        return None
    return pull(config.data.source, config.data.train, Path(workdir) / SOURCE_STATE)


def pull(source: str, dest: Path, state: Path) -> dict[str, Any]:
    """Copy ``source`` to ``dest`` (one file to a file, several to a folder) unless ``state``
    records that this listing was copied there already; returns the listing copied."""
    found = _scan(source)
    now = _listing(source, found)
    try:
        done = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        done = None
    if (done == now and dest.exists()) or _same_file(source, dest):
        return now
    if not found:
        raise DataError(f"{public(source)}: no .csv or .parquet files to train on")
    if len(found) == 1 and not dest.is_dir():
        ((origin, _),) = found.values()
        with atomic_path(dest) as tmp:
            _fetch(origin, tmp)
    else:
        _fetch_folder(source, found, dest)
    atomic_write_json(state, now)
    return now


def _fetch_folder(source: str, found: dict[str, tuple[str, Any]], dest: Path) -> None:
    """Several files make a Parquet dataset folder, filled beside and renamed into place."""
    if (
        dest.suffix.lower() == ".csv"
        or dest.is_file()
        or not all(Path(name).suffix.lower() in PARQUET_SUFFIXES for name in found)
    ):
        raise DataError(
            f"{public(source)}: {len(found)} data files; a source of several files must be "
            "Parquet files and data.train a folder for them (or point data.source at one file)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name, (origin, _) in found.items():
            (fresh / name).parent.mkdir(parents=True, exist_ok=True)
            _fetch(origin, fresh / name)
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(fresh, dest)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _same_file(source: str, dest: Path) -> bool:
    """``data.source`` names data.train itself (a mounted file watched in place)."""
    return not (is_url(source) or is_remote(source)) and Path(source).resolve() == dest.resolve()


# -- listings -----------------------------------------------------------------------------


def _local_entries(source: str) -> dict[str, tuple[str, dict[str, Any]]]:
    path = Path(source)
    if glob.has_magic(source):
        found = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        base = Path(_glob_base(source))
    elif path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_data(p.name))
        base = path
    elif path.is_file():
        found, base = [path], path.parent
    else:
        raise DataError(f"{source}: data source not found")
    return {p.relative_to(base).as_posix(): (str(p), _local_entry(p)) for p in found}


def _glob_base(pattern: str) -> str:
    """The folder above a glob's first wildcard: names stay the same whatever matches."""
    return re.split(r"[*?[]", pattern, maxsplit=1)[0].rsplit("/", 1)[0]


def _local_entry(path: Path) -> dict[str, Any]:
    digest, newlines, last = hashlib.sha256(), 0, b"\n"
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            last = block[-1:]
    rows = None
    if path.suffix.lower() == ".csv":  # one record a line; a header line
        rows = max(newlines + (last != b"\n") - 1, 0)
    elif path.suffix.lower() in PARQUET_SUFFIXES:
        rows = _parquet_rows(path)
    return {"size": path.stat().st_size, "hash": f"sha256:{digest.hexdigest()}", "rows": rows}


def _filesystem(url: str) -> tuple[Any, str]:
    """A fresh filesystem and path for ``url``: no cached instance, no cached listing (a
    second look in the same process must see the store as it is now)."""
    import fsspec

    return fsspec.core.url_to_fs(url, skip_instance_cache=True, use_listings_cache=False)


def _remote_entries(source: str) -> dict[str, tuple[str, dict[str, Any]]]:
    try:
        fs, path = _filesystem(source)
        path = path.rstrip("/")
        if glob.has_magic(path):
            found = fs.glob(path, detail=True)
            base = _glob_base(path)
        else:
            found = fs.find(path, detail=True, withdirs=False)
            base = path.rsplit("/", 1)[0] if list(found) == [path] else path
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(
            f"{public(source)}: cannot list the data source: {type(exc).__name__}: {exc}"
        ) from None
    if not found:
        raise DataError(f"{public(source)}: data source not found or empty")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    entries = {}
    for key, info in sorted(found.items()):  # keys without the protocol
        if info.get("type", "file") != "file" or not _is_data(key):
            continue
        tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("mtime")
        rows = None
        if Path(key).suffix.lower() in PARQUET_SUFFIXES:
            with fs.open(key, "rb") as fh:  # reads the footer by ranged GETs
                rows = _parquet_rows(fh)
        entries[key[len(base) :].lstrip("/")] = (
            f"{protocol}://{key}",
            {
                "size": int(info.get("size") or 0),
                "hash": f"etag:{str(tag).strip(chr(34))}",
                "rows": rows,
            },
        )
    return entries


def _http_entry(url: str) -> dict[str, Any]:
    import requests

    try:
        response = requests.head(url, allow_redirects=True, timeout=60)
    except requests.RequestException as exc:
        raise DataError(
            f"{public(url)}: cannot reach the data source: {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        raise DataError(f"{public(url)}: HEAD answered HTTP {response.status_code}")
    tag = response.headers.get("ETag")
    modified = response.headers.get("Last-Modified")
    if not (tag or modified):
        raise DataError(
            f"{public(url)}: the server sends neither ETag nor Last-Modified; a change cannot be "
            "seen without downloading, so watch the data where it is stored"
        )
    return {
        "size": int(response.headers.get("Content-Length") or 0),
        "hash": f"etag:{tag.strip(chr(34))}" if tag else f"modified:{modified}",
        "rows": None,
    }


def _parquet_rows(file: Any) -> int | None:
    """Rows from a Parquet footer; None when it is no readable Parquet (its bytes still count)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(file).metadata.num_rows)
    except Exception:  # pyarrow raises many unrelated classes for a bad file
        return None


def _is_data(name: str) -> bool:
    return Path(name).suffix.lower() in DATA_SUFFIXES


# -- copies -------------------------------------------------------------------------------


def _fetch(origin: str, target: Path) -> None:
    if is_url(origin):
        import requests

        with requests.get(origin, stream=True, timeout=60) as response:
            if response.status_code != 200:
                raise DataError(f"{public(origin)}: GET answered HTTP {response.status_code}")
            with open(target, "wb") as fh:
                for block in response.iter_content(_BLOCK):
                    fh.write(block)
    elif is_remote(origin):
        fs, path = _filesystem(origin)
        fs.get_file(path, str(target))
    else:
        shutil.copyfile(origin, target)
