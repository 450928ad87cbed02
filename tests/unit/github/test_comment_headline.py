"""The sticky comment opens with one verdict for the whole pull request, from the sections the
checks posted (issue 14, part 7): validate-data and the gate together, never a ✅ while one of
them failed or has not reported."""

from __future__ import annotations

import pytest

from mlops_actions.github.comment import HEADLINE_START, marker, post_sticky_comment


@pytest.fixture
def pr(fake_github) -> int:
    return fake_github.add_pull_request()


def post(pr: int, section: str, passed: bool | None, body: str = "report") -> None:
    post_sticky_comment(f"## {section}\n{body}", name="iris", section=section, passed=passed, pr=pr)


def headline(fake_github, pr: int) -> str:
    (comment,) = fake_github.comments_on(pr)
    body = comment["body"]
    assert body.count(HEADLINE_START) == 1
    first, second = body.splitlines()[1:3]
    assert (first, marker("iris")) == (HEADLINE_START, body.splitlines()[0])  # at the top
    return second


def test_the_headline_follows_every_section_that_reports(fake_github, pr):
    post(pr, "validate-data", True)
    assert headline(fake_github, pr) == (
        "## ⏳ data validation passed; gate not reported yet: <code>iris</code>"
    )
    post(pr, "evaluate-gate", False)
    assert headline(fake_github, pr) == (
        "## ❌ gate failed; data validation passed: <code>iris</code>"
    )
    post(pr, "evaluate-gate", True, "better now")
    assert headline(fake_github, pr) == ("## ✅ data validation and gate passed: <code>iris</code>")
    post(pr, "validate-data", False)
    assert headline(fake_github, pr) == (
        "## ❌ data validation failed; gate passed: <code>iris</code>"
    )
    body = fake_github.comments_on(pr)[0]["body"]
    assert body.count("## validate-data") == 1 and "better now" in body


def test_a_section_without_a_verdict_makes_no_headline(fake_github, pr):
    post(pr, "notes", None)
    (comment,) = fake_github.comments_on(pr)
    assert HEADLINE_START not in comment["body"]
    post(pr, "validate-data", False)
    assert headline(fake_github, pr) == ("## ❌ data validation failed: <code>iris</code>")
