"""The registry's storage on the GitHub repository itself: ``github://OWNER/REPO`` (``github://``:
the repository the workflow runs in), with nothing but the workflow's ``GITHUB_TOKEN``.

* Small files (a version's metadata and claim, aliases, audit entries) live on the branch
  ``mlops-registry``, written one commit each through the contents API, so the branch's
  history is the audit log too. The branch shares no history with the code and holds no
  workflow files, so pushes to it start no workflow (nor would a ``GITHUB_TOKEN`` push).
* Model files are release assets: one prerelease per version, tagged ``<model>@v<n>``, each
  asset named by its sha256; the branch holds a small pointer in the file's place, and a
  download is checked against it.
* Conditional writes make the registry's compare-and-swap: creating a file that exists is
  refused (422), and replacing one is refused unless the request names the blob it read
  (409). GitHub also answers 409 when another write on the branch landed while this one was
  made (its docs: such writes conflict). Reading the file again tells these apart: its own
  bytes mean an earlier try landed though its answer was lost (a retried 502), other bytes
  mean the race was lost, the same blob means only the branch moved, so write again.

Reads need ``contents: read``; writes ``contents: write``. Unchanged files are re-read with
``If-None-Match``, which GitHub does not count against the rate limit (``mlops serve`` polls).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions.errors import ConfigError, GitHubError
from mlops_actions.files import to_json
from mlops_actions.github.client import GitHubClient

BRANCH = "mlops-registry"
README = "README.md"
POINTER = "release_asset"
WAIT_S = 60.0
"""How long a write keeps retrying while other writes land on the branch."""
_README_TEXT = """\
# Model registry

Written by `mlops deploy` / `mlops rollback` (mlops-actions); do not edit by hand.

- `<model>/<version>/metadata.json`: a version, complete once this file exists; its
  `model.onnx` and `model-card.md` here point at the assets of the release `<model>@v<version>`.
- `<model>/aliases/<alias>.json`: where an alias points and where it pointed before.
- `<model>/audit/*.json` and this branch's commit history: who changed what, when.

`mlops registry list` and `mlops registry show` print it.
"""


class GitHubStore:
    """The registry's ``_Store`` on one repository: files on a branch, models as release assets."""

    def __init__(self, url: str, options: Mapping[str, Any]) -> None:
        repository = url.removeprefix("github://").strip("/") or os.environ.get(
            "GITHUB_REPOSITORY", ""
        )
        if repository.count("/") != 1 or "" in repository.split("/"):
            raise ConfigError(
                f"registry {url}: name the repository as github://OWNER/REPO, or use github:// "
                "inside GitHub Actions (GITHUB_REPOSITORY)"
            )
        self.url = f"github://{repository}"
        self.branch = str(options.get("branch", BRANCH))
        self.client = GitHubClient.from_env(
            token_env=str(options.get("token_env", "GITHUB_TOKEN")), repository=repository
        )
        self._branch_made = False

    # -- the _Store protocol ------------------------------------------------------------

    def list(self, prefix: str) -> list[str]:
        try:
            tree = self.client.get_tree(self.branch)
        except GitHubError as exc:
            if exc.status == 409:  # an empty repository: nothing registered yet
                return []
            raise
        if tree is None:
            return []
        if tree.get("truncated"):
            raise GitHubError(
                f"registry {self.url}: branch {self.branch} holds more entries than GitHub "
                "lists at once (100,000); keep a registry this size on S3"
            )
        base = f"{prefix}/" if prefix else ""
        names = {
            item["path"][len(base) :].split("/", 1)[0]
            for item in tree["tree"]
            if item["path"].startswith(base) and item["path"] != base
        }
        if not prefix:
            names.discard(README)
        return sorted(names)

    def read(self, key: str) -> bytes | None:
        found = self.read_tagged(key)
        return None if found is None else found[0]

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        found = self.client.get_file(key, ref=self.branch)
        if found is None:
            return None
        data, sha = found
        pointer = _pointer(data)
        return (data if pointer is None else self._download(key, pointer)), sha

    def write(self, key: str, data: bytes) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            found = self.client.get_file(key, ref=self.branch)
            if found is not None and found[0] == data:
                return
            if self._put(key, data, None if found is None else found[1]):
                return
            self._pause(key, deadline)

    def create(self, key: str, data: bytes) -> bool:
        deadline = time.monotonic() + WAIT_S
        while True:
            if self._put(key, data, None):
                return True
            found = self.client.get_file(key, ref=self.branch)
            if found is not None:
                return found[0] == data  # our own earlier try, or another writer's file
            self._pause(key, deadline)  # refused while absent: the branch moved

    def replace(self, key: str, data: bytes, tag: str | None) -> bool:
        if tag is None:
            return self.create(key, data)
        deadline = time.monotonic() + WAIT_S
        while True:
            if self._put(key, data, tag):
                return True
            found = self.client.get_file(key, ref=self.branch)
            if found is not None and found[0] == data:
                return True  # an earlier try landed; its answer was lost
            if found is None or found[1] != tag:
                return False  # another writer changed it: the caller reads again
            self._pause(key, deadline)  # unchanged: another file's write moved the branch

    def delete(self, key: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while (found := self.client.get_file(key, ref=self.branch)) is not None:
            try:
                self.client.delete_file(
                    key, branch=self.branch, message=f"registry: delete {key}", sha=found[1]
                )
            except GitHubError as exc:
                if exc.status not in (404, 409):
                    raise
                self._pause(key, deadline)
                continue
            pointer = _pointer(found[0])
            if pointer is not None:  # after the pointer: a kill in between leaves only an orphan
                try:
                    self.client.delete_release_asset(pointer["asset_id"])
                except GitHubError as exc:
                    if exc.status != 404:
                        raise
            return

    def copy_in(self, source: str | os.PathLike[str], key: str) -> None:
        """Upload ``source`` as an asset of the version's release, then point ``key`` at it."""
        folder, _, name = key.rpartition("/")
        model, _, number = folder.partition("/")
        data = Path(source).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        release = self._release(model, number)
        asset_name = f"{digest}-{name}"
        asset = next(
            (
                a
                for a in release.get("assets") or []
                if a["name"] == asset_name and a.get("state", "uploaded") == "uploaded"
            ),
            None,
        ) or self.client.upload_release_asset(
            release,
            asset_name,
            data,
            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            label=name,
        )
        pointer = {
            "release": release["tag_name"],
            "release_id": release["id"],
            "asset_id": asset["id"],
            "name": asset_name,
            "sha256": digest,
            "size": len(data),
            "url": asset.get("browser_download_url"),
        }
        self.write(key, to_json({POINTER: pointer}).encode())

    def location(self, key: str) -> str:
        server = os.environ.get("GITHUB_SERVER_URL", "").strip() or "https://github.com"
        return f"{server}/{self.client.repository}/tree/{self.branch}/{key}"

    def local_path(self, key: str) -> Path | None:
        return None

    # -- internals ------------------------------------------------------------------------

    def _put(self, key: str, data: bytes, sha: str | None) -> bool:
        """One conditional write; False when GitHub refused it for a conflict (409/422)."""
        while True:
            try:
                self.client.put_file(
                    key, data, branch=self.branch, message=_message(key, data), sha=sha
                )
                return True
            except GitHubError as exc:
                if exc.status in (409, 422):
                    return False
                if exc.status != 404 or self._branch_made:
                    raise
            self._make_branch()  # 404: the branch does not exist yet

    def _make_branch(self) -> None:
        """The registry branch, with no history in common with the code (once; a race is fine)."""
        try:
            self.client.create_branch(
                self.branch,
                {README: _README_TEXT},
                message="registry: start the model registry of this repository",
            )
        except GitHubError as exc:
            if exc.status == 409:
                raise GitHubError(
                    f"registry {self.url}: the repository is empty; push a first commit, then deploy"
                ) from None
            if exc.status != 422:  # 422: another deploy created it meanwhile
                raise
        self._branch_made = True

    def _pause(self, key: str, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise GitHubError(
                f"registry {self.url}: {key} could not be written for {WAIT_S:.0f} s while other "
                f"writes kept landing on branch {self.branch}; rerun the job"
            )
        time.sleep(random.uniform(0.05, 0.5))  # apart, so racing writers do not collide again

    def _release(self, model: str, number: str) -> dict[str, Any]:
        """The version's release, created as a prerelease (never the repository's "latest")."""
        tag = f"{model}@v{number}"
        release = self.client.get_release_by_tag(tag)
        if release is not None:
            return release
        return self.client.create_release(
            tag,
            name=f"{model} v{number} (model registry)",
            body=(
                f"Version {number} of `{model}` in this repository's model registry "
                f"(branch `{self.branch}`): its files, each asset named by its sha256. "
                "Deleting this release deletes the version's model."
            ),
            target_commitish=self.branch,
            prerelease=True,
        )

    def _download(self, key: str, pointer: Mapping[str, Any]) -> bytes:
        data = self.client.download_release_asset(int(pointer["asset_id"]))
        digest = hashlib.sha256(data).hexdigest()
        if digest != pointer["sha256"]:
            raise GitHubError(
                f"registry {self.url}: {key} (asset {pointer['name']} of release "
                f"{pointer['release']}) downloaded with sha256 {digest}; the registry recorded "
                f"{pointer['sha256']}: the asset was replaced, do not use this version"
            )
        return data


def _pointer(data: bytes) -> Mapping[str, Any] | None:
    """The asset a branch file stands for, if it is a pointer (the registry's files are JSON
    objects with other keys)."""
    if POINTER.encode() not in data[:64]:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc[POINTER] if isinstance(doc, dict) and set(doc) == {POINTER} else None


def _message(key: str, data: bytes) -> str:
    """The commit message: what changed, readable in ``git log`` of the branch."""
    parts = key.split("/")
    if len(parts) != 3:
        return f"registry: {key}"
    model, folder, name = parts
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        doc = {}
    if folder == "audit":
        moved = (
            f"v{doc['from_version']} -> v{doc.get('to_version')}"
            if doc.get("from_version") is not None
            else f"v{doc.get('to_version')}"
        )
        what = " ".join(str(p) for p in (doc.get("event"), doc.get("alias"), moved) if p)
        return f"{model}: {what} by {doc.get('actor')}"
    if folder == "aliases":
        return f"{model}: {doc.get('alias')} -> v{doc.get('version')}"
    if name == ".claim":
        return f"{model}: claim v{folder}"
    if name == "metadata.json":
        return f"{model}: v{folder} complete"
    if POINTER in doc:
        return f"{model}: v{folder} {name} is asset {doc[POINTER]['name'][:12]}… of {doc[POINTER]['release']}"
    return f"registry: {key}"
