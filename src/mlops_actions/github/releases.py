"""A model version as a GitHub release: one release per version, assets uploaded once."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_actions.github.client import GitHubClient


def release_for_model(
    client: GitHubClient, model: str, sha256: str
) -> tuple[int, dict[str, Any] | None]:
    """The release already holding this model (its body names the sha256), else the next free number."""
    number = 1
    while (release := client.get_release_by_tag(f"{model}-v{number}")) is not None:
        if sha256 in (release.get("body") or ""):
            return number, release
        number += 1
    return number, None


def upload_assets(
    client: GitHubClient, release: dict[str, Any], assets: Mapping[str, tuple[Path, str]]
) -> list[str]:
    """Upload ``{name: (path, content type)}``; an asset whose digest already matches is kept, so
    a rerun uploads nothing. Returns the names uploaded."""
    present = {a["name"]: a.get("digest") for a in release.get("assets") or []}
    uploaded = []
    for name, (path, content_type) in assets.items():
        data = path.read_bytes()
        if present.get(name) != f"sha256:{hashlib.sha256(data).hexdigest()}":
            client.upload_release_asset(release, name, data, content_type=content_type)
            uploaded.append(name)
    return uploaded
