"""The one way generated files are written or checked (README tables, workflow templates)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stale(files: Mapping[Path, str]) -> list[Path]:
    """Files whose text on disk differs from what the generator makes (missing ones included)."""
    return [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(doc: str, make: Callable[[], Mapping[Path, str]], argv: list[str] | None = None) -> int:
    """``--check``: exit 1 naming stale files; otherwise rewrite them."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    args = parser.parse_args(argv)
    files = make()
    outdated = stale(files)
    for path in outdated:
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
        print(f"{'stale' if args.check else 'written'}: {path.relative_to(ROOT)}")
    return 1 if outdated and args.check else 0
