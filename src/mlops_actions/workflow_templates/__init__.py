"""The copy-ready workflow templates, made from the reusable workflows they share jobs with.

The jobs live once, in ``.github/workflows/<source>`` (``on: workflow_call``, typed inputs). A
template is that file with its own triggers and concurrency instead of ``workflow_call``, and
each ``${{ inputs.NAME }}`` replaced by the input's default (or the value a project gives), so
a user can copy one file and edit plain values. ``scripts/gen_workflows.py`` writes them into
``workflows/`` and the examples, and copies the sources and the template list here, so that
``mlops init`` renders the same files for a project in any folder of a repository.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources

SOURCES = "sources"
MANIFEST = "templates.json"
OPT_IN = frozenset({"ml-data-watch"})
"""Templates for a feature the project turns on (data.source), which neither ``mlops init``
nor the examples set: a copy elsewhere would fail every night."""
_ON_BLOCK = re.compile(r"^on:\n(?:(?:[ \t]+.*)?\n)*?(?=^\S)", re.MULTILINE)
_INPUT = re.compile(r"\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}")
_PATH_FILTER = re.compile(r"^(      - ')(?!\.github/)([^']+)('\s*)$", re.MULTILINE)


@dataclass(frozen=True)
class Template:
    name: str
    source: str
    about: str
    triggers: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _text(value: object) -> str:
    """An input's value as its expression gives it: booleans as ``true``/``false``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _yaml_scalar(value: object) -> str:
    import yaml

    text = yaml.safe_dump(value, default_style=None, width=1000).strip()
    return text.removesuffix("\n...").strip()


def render(
    template: Template,
    source_text: str,
    *,
    values: Mapping[str, str] | None = None,
    folder: str = ".",
    paths: Sequence[str] = (),
) -> str:
    """The copy-ready workflow for ``template`` from its reusable workflow's text; ``values``
    replace inputs' defaults, a project in ``folder`` gets its path filters there, and
    ``paths`` (repository-relative, e.g. its data) join them where no filter covers them yet."""
    import yaml

    source = yaml.safe_load(source_text)
    inputs = source[True]["workflow_call"]["inputs"]  # PyYAML reads the key `on` as True
    chosen = {name: _text(spec.get("default", "")) for name, spec in inputs.items()}
    chosen.update(values or {})
    body = source_text[source_text.index("\nname:") + 1 :]
    body = re.sub(r"^name: .*$", f"name: {template.name}", body, count=1, flags=re.MULTILINE)
    triggers = template.triggers
    if folder not in ("", "."):
        triggers = _PATH_FILTER.sub(lambda m: f"{m[1]}{folder}/{m[2]}{m[3]}", triggers)
    filters = [m[2] for m in _PATH_FILTER.finditer(triggers)]
    missing = [p for p in paths if not any(fnmatch.fnmatchcase(p, f) for f in filters)]
    if filters and missing:  # the data, beside the filters that do not cover it
        first = _PATH_FILTER.search(triggers)
        added = "".join(f"      - '{p}'\n" for p in missing)
        triggers = triggers[: first.start()] + added + triggers[first.start() :]
    body, count = _ON_BLOCK.subn(triggers + "\n", body, count=1)
    if count != 1:
        raise ValueError(f".github/workflows/{template.source}: no top-level `on:` block found")

    def default(match: re.Match[str], *, whole: bool) -> str:
        name = match.group(1)
        if name not in chosen:
            raise ValueError(
                f".github/workflows/{template.source}: inputs.{name} is not a declared input"
            )
        return _yaml_scalar(chosen[name]) if whole else chosen[name]

    lines = []
    for line in body.splitlines(keepends=True):
        key, sep, value = line.partition(": ")
        if sep and _INPUT.fullmatch(value.strip()) and "#" not in value:
            line = f"{key}: {default(_INPUT.fullmatch(value.strip()), whole=True)}\n"
        else:
            line = _INPUT.sub(lambda m: default(m, whole=False), line)
        lines.append(line)
    about = "".join(f"# {row}\n" for row in template.about.splitlines())
    header = (
        f"{about}# Copy into your repository's .github/workflows/ and replace OWNER with the owner of\n"
        f"# mlops-actions. Generated from .github/workflows/{template.source} by scripts/gen_workflows.py.\n"
    )
    return header + "".join(lines)


def manifest_json(templates: list[Template]) -> str:
    return json.dumps([t.to_dict() for t in templates], indent=2) + "\n"


def packaged() -> list[tuple[Template, str]]:
    """Every template with its reusable workflow's text, as shipped in the package."""
    here = resources.files(__name__)
    listed = json.loads((here / MANIFEST).read_text(encoding="utf-8"))
    return [
        (Template(**item), (here / SOURCES / item["source"]).read_text(encoding="utf-8"))
        for item in listed
    ]
