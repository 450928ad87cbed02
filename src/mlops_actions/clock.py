"""The one clock every record is stamped with: UTC, ISO 8601, milliseconds, a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime | None = None) -> str:
    """``2026-11-30T05:13:45.123Z``: what result files, the registry and the logs record."""
    return (when or now()).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp(when: datetime | None = None) -> str:
    """``20261130T051345123456Z``: sortable, and safe in a file name."""
    return (when or now()).strftime("%Y%m%dT%H%M%S%fZ")
