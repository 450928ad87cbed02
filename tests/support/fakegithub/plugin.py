"""pytest plugin: the ``fake_github`` fixture (register with ``pytest_plugins``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from support.fakegithub.server import FakeGitHub

# variables a real Actions runner sets that would point code under test at the real GitHub
_RUNNER_VARS = (
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_RUN_ID",
    "GITHUB_SERVER_URL",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
)


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A running fake GitHub with GITHUB_API_URL/GITHUB_TOKEN/GITHUB_REPOSITORY pointing at it.

    A request that breaks GitHub's API contract fails the test at teardown; a test that
    breaks it on purpose takes the violations with ``fake_github.take_violations()``.
    """
    fake = FakeGitHub(token=f"ghs_{secrets.token_hex(18)}").start()
    for name in _RUNNER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_REPOSITORY", fake.repository)
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        pytest.fail(
            "requests broke GitHub's API contract:\n  " + "\n  ".join(fake.violations),
            pytrace=False,
        )
