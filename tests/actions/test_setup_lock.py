"""actions/setup installs hash-pinned dependencies: every set it accepts is locked and current."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement

from support import REPO

LOCKS = REPO / "requirements"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# `name==version [; marker] \` then one `--hash=sha256:...` line or more (a universal lock pins
# some packages once per Python version, each under its marker)
ENTRY = re.compile(
    r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?: ;[^\\\n]*)? ((?:\\\n\s*--hash=sha256:[0-9a-f]{64} ?)+)", re.M
)


def _locked(path) -> dict[str, list[str]]:
    text = path.read_text()
    entries: dict[str, list[str]] = {}
    for match in ENTRY.finditer(text):
        entries.setdefault(match.group(1).lower().replace("_", "-"), []).append(match.group(2))
    pinned = re.findall(r"^[A-Za-z0-9_.-]+==", text, re.M)
    assert sum(map(len, entries.values())) == len(pinned), f"{path.name}: a pin without a hash"
    return entries


def _wanted(extras: list[str]) -> list[Requirement]:
    project = PYPROJECT["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    build = (LOCKS / "build.in").read_text().splitlines()
    wanted += [Requirement(r) for r in build if r.strip() and not r.startswith("#")]
    return [r for r in wanted if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize(
    "extras", [[], ["s3"], ["serve"], ["s3", "serve"], ["tracking"], ["s3", "tracking"]]
)
def test_each_extras_set_is_locked_with_hashes_and_satisfies_pyproject(extras):
    """A dependency added to pyproject.toml without `make lock` fails here."""
    path = LOCKS / ("-".join(["action", *extras]) + ".txt")
    locked = _locked(path)
    for requirement in _wanted(extras):
        name = requirement.name.lower().replace("_", "-")
        assert name in locked, f"{path.name} lacks {requirement}; run `make lock`"
        for version in locked[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{path.name} pins {name}=={version}, outside {requirement}; run `make lock`"
            )
