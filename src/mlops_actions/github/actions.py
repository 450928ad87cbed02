"""The GitHub Actions contract: outputs, step summary, annotations, groups, masks, the event.

Inside a workflow (``GITHUB_ACTIONS=true``) everything goes where the runner reads it;
elsewhere the same calls print readable terminal text, so a stage never branches on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, TextIO


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _append(env_var: str, text: str) -> bool:
    path = os.environ.get(env_var)
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
    return True


def set_outputs(outputs: Mapping[str, object]) -> None:
    """Write step outputs; values with newlines use the heredoc form with a random delimiter."""
    if not in_actions():
        return
    lines = []
    for name, value in outputs.items():
        text = _output_text(value)
        if "\n" in text or "\r" in text:
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            lines.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
        else:
            lines.append(f"{name}={text}\n")
    _append("GITHUB_OUTPUT", "".join(lines))


def _output_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def append_summary(markdown: str) -> None:
    """Add markdown to the job's step summary (no-op outside Actions)."""
    if in_actions():
        _append("GITHUB_STEP_SUMMARY", markdown if markdown.endswith("\n") else markdown + "\n")


def annotate(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """An ``::error``/``::warning``/``::notice`` annotation, or ``level: file:line: message``."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"unknown annotation level {level!r}")
    if in_actions():
        props = []
        if file:
            props.append(f"file={_escape_property(file)}")
        if line is not None:
            props.append(f"line={int(line)}")
        if title:
            props.append(f"title={_escape_property(title)}")
        head = f"::{level} {','.join(props)}" if props else f"::{level}"
        (stream or sys.stdout).write(f"{head}::{_escape_data(message)}\n")
        return
    where = f"{file}:{line}: " if file and line is not None else f"{file}: " if file else ""
    (stream or sys.stderr).write(f"{level}: {where}{message}\n")


def mask(secret: str) -> None:
    """Ask the runner to hide ``secret`` in every later log line."""
    if secret and in_actions():
        sys.stdout.write(f"::add-mask::{secret}\n")
        sys.stdout.flush()


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """Fold long output under ``title`` in the Actions log; a plain heading elsewhere."""
    if in_actions():
        sys.stdout.write(f"::group::{_escape_data(title)}\n")
        try:
            yield
        finally:
            sys.stdout.write("::endgroup::\n")
    else:
        sys.stdout.write(f"== {title}\n")
        yield


def run_url() -> str | None:
    """Link to this workflow run, when running in Actions."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if repo and run_id:
        return f"{server}/{repo}/actions/runs/{run_id}"
    return None


def event_pull_request(event_path: str | None = None) -> dict[str, Any]:
    """The ``pull_request`` of the triggering event (GITHUB_EVENT_PATH), {} for other events."""
    path = event_path or os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError):
        return {}
    pull = event.get("pull_request") if isinstance(event, dict) else None
    return pull if isinstance(pull, dict) else {}
