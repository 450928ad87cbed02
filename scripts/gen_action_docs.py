"""Write the inputs/outputs tables of each action's README from its action.yml.

Hand-kept tables drift from the metadata; these are regenerated instead. Everything between
the two markers is replaced; the usage snippet above them stays hand-written.

    python scripts/gen_action_docs.py           # rewrite the tables
    python scripts/gen_action_docs.py --check   # exit 1 naming the READMEs that are stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import generated_files
import yaml

ROOT = generated_files.ROOT
START = "<!-- action-docs:start (generated from action.yml by scripts/gen_action_docs.py; do not edit) -->"
END = "<!-- action-docs:end -->"


def documented_actions(root: Path = ROOT) -> dict[Path, Path]:
    """Each action.yml and the markdown file that documents it."""
    pairs = {root / "action.yml": root / "docs" / "actions.md"}
    for action in sorted((root / "actions").glob("*/action.yml")):
        pairs[action] = action.parent / "README.md"
    return pairs


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def tables(action: dict) -> str:
    """Markdown tables of an action's inputs and outputs, in the order action.yml declares them."""
    lines = ["### Inputs", ""]
    inputs = action.get("inputs") or {}
    if inputs:
        lines += ["| Input | Description | Required | Default |", "| --- | --- | --- | --- |"]
        for name, spec in inputs.items():
            default = spec.get("default")
            shown = "" if default is None else f"`{_cell(default)}`" if str(default) else "`''`"
            required = "yes" if spec.get("required") else "no"
            lines.append(
                f"| `{name}` | {_cell(spec.get('description', ''))} | {required} | {shown} |"
            )
    else:
        lines.append("None.")
    lines += ["", "### Outputs", ""]
    outputs = action.get("outputs") or {}
    if outputs:
        lines += ["| Output | Description |", "| --- | --- |"]
        for name, spec in outputs.items():
            lines.append(f"| `{name}` | {_cell(spec.get('description', ''))} |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def render(readme: str, action: dict, *, where: str = "README") -> str:
    """``readme`` with the generated section replaced by fresh tables."""
    head, sep, rest = readme.partition(START)
    _, sep_end, tail = rest.partition(END)
    if not sep or not sep_end:
        raise SystemExit(
            f"{where}: missing the markers {START!r} … {END!r}; add them where the tables go"
        )
    return f"{head}{START}\n{tables(action)}{END}{tail}"


def outputs() -> dict[Path, str]:
    """Every documenting file with fresh tables."""
    files = {}
    for action_file, readme_file in documented_actions().items():
        action = yaml.safe_load(action_file.read_text(encoding="utf-8"))
        readme = readme_file.read_text(encoding="utf-8")
        files[readme_file] = render(readme, action, where=str(readme_file.relative_to(ROOT)))
    return files


if __name__ == "__main__":
    sys.exit(generated_files.main(__doc__, outputs))
