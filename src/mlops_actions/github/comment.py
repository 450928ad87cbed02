"""The sticky pull-request comment: one per pull request and model, edited in place each run.

A hidden HTML marker at the top of the body finds the comment again, so reruns never pile
up comments; only a comment the bot wrote counts (anyone can paste the marker into theirs,
and the tool must never edit it). Bodies over GitHub's 65,536-character limit are cut at a line with a link to
the run. A token that may not comment (a fork's pull request, missing ``pull-requests:
write``) gives a warning, not a failure: the same report is in the step summary.

Stages share the comment in sections; a stage that posts its verdict (``passed``) gets it
into the one line the comment opens with, the verdict of the pull request as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops_actions.config import BOT_LOGIN
from mlops_actions.errors import GitHubError
from mlops_actions.github.actions import annotate, event_pull_request, run_url
from mlops_actions.reports import GITHUB_COMMENT_LIMIT, cut_markdown, md

PERMISSION = "pull-requests: write"
CUT_MARKER = "<!-- mlops-actions:cut -->"
HEADLINE_START, HEADLINE_END = "<!-- mlops-actions:verdict -->", "<!-- /mlops-actions:verdict -->"
VERDICT = re.compile(r"<!-- mlops-actions:verdict:([A-Za-z0-9._-]+):(passed|failed) -->")
PR_CHECKS = {"validate-data": "data validation", "evaluate-gate": "gate"}
"""The checks a pull request gets (ml-pull-request.yml), as the headline names them: one
that has not posted yet is shown as pending, so a passed data check alone never reads as ✅."""


@dataclass(frozen=True)
class CommentResult:
    action: str  # "created", "updated" or "skipped"
    pr: int | None
    comment_id: int | None = None
    url: str | None = None
    truncated: bool = False
    reason: str = ""  # why it was skipped


def marker(name: str) -> str:
    """The hidden line that identifies the comment of model ``name``."""
    return f"<!-- mlops-actions:comment:{re.sub(r'[^A-Za-z0-9._-]', '_', name)} -->"


def post_sticky_comment(
    body: str,
    *,
    name: str,
    section: str | None = None,
    passed: bool | None = None,
    pr: int | None = None,
    client: Any = None,
    token_env: str = "GITHUB_TOKEN",
    bot_login: str = BOT_LOGIN,
    report_url: str | None = None,
) -> CommentResult:
    """Create or update the comment of model ``name`` on pull request ``pr``.

    With ``section`` (e.g. the stage), ``body`` replaces only that part of the comment, so
    validate-data and evaluate-gate share one comment without erasing each other; with
    ``passed`` too, the section's verdict joins the headline at the top.
    ``pr`` defaults to the pull request of the triggering event (GITHUB_EVENT_PATH);
    ``client`` to ``GitHubClient.from_env(token_env=token_env, bot_login=bot_login)``;
    ``report_url`` (where a cut comment points for the whole report) to this run.
    """
    if pr is None:
        pr = pull_request_number()
    if pr is None:
        reason = (
            "not a pull_request event and no --pr given, so there is no pull request to comment on"
        )
        annotate("notice", f"PR comment skipped: {reason}")
        return CommentResult("skipped", None, reason=reason)
    if client is None:
        from mlops_actions.github.client import GitHubClient

        client = GitHubClient.from_env(token_env=token_env, bot_login=bot_login)

    tag = marker(name)
    try:
        existing = client.find_comment(pr, tag, permission=PERMISSION)
        if section is not None:
            content = _content(existing["body"], tag) if existing else ""
            body = with_headline(with_section(content, section, body, passed), name)
        text, truncated = fit_body(body, tag, link=report_url)
        if existing is None:
            comment = client.create_issue_comment(pr, text, permission=PERMISSION, marker=tag)
            action = "created"
        else:
            comment = client.update_issue_comment(existing["id"], text, permission=PERMISSION)
            action = "updated"
    except GitHubError as exc:
        if not exc.forbidden:
            raise
        annotate("warning", f"PR comment skipped, the report is in the step summary: {exc}")
        return CommentResult("skipped", pr, reason=str(exc))
    return CommentResult(action, pr, comment["id"], comment.get("html_url"), truncated)


def with_section(content: str, section: str, body: str, passed: bool | None = None) -> str:
    """``content`` with section ``section`` replaced by ``body`` (appended if it is new),
    carrying its verdict in a hidden line when ``passed`` is given."""
    start, end = (
        f"<!-- mlops-actions:section:{section} -->",
        f"<!-- /mlops-actions:section:{section} -->",
    )
    if passed is not None:
        body = (
            f"<!-- mlops-actions:verdict:{section}:{'passed' if passed else 'failed'} -->\n{body}"
        )
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start not in content:
        return f"{content.rstrip()}\n\n{block}\n".lstrip()
    head, rest = content.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else ""  # a cut comment may have lost the end
    return f"{head}{block}{tail}"


def with_headline(content: str, name: str) -> str:
    """``content`` opening with one line for the whole pull request, from its sections'
    verdicts: ❌ if one failed, ⏳ while a pull-request check has not posted, else ✅."""
    if HEADLINE_START in content and HEADLINE_END in content:
        head, rest = content.split(HEADLINE_START, 1)
        content = (head + rest.split(HEADLINE_END, 1)[1]).lstrip("\n")
    verdicts = {section: state == "passed" for section, state in VERDICT.findall(content)}
    if not verdicts:
        return content
    title = {section: PR_CHECKS.get(section, section) for section in verdicts}
    failed = [title[s] for s, ok in verdicts.items() if not ok]
    passed = [title[s] for s, ok in verdicts.items() if ok]
    pending = [what for section, what in PR_CHECKS.items() if section not in verdicts]
    if failed:
        line = f"❌ {_and(failed)} failed" + (f"; {_and(passed)} passed" if passed else "")
    elif pending:
        line = f"⏳ {_and(passed)} passed; {_and(pending)} not reported yet"
    else:
        line = f"✅ {_and(passed)} passed"
    headline = f"## {line}: <code>{md(name)}</code>"
    return f"{HEADLINE_START}\n{headline}\n{HEADLINE_END}\n\n{content}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _content(text: str, tag: str) -> str:
    """The comment without its marker line and without an earlier cut note."""
    return text.split(tag, 1)[-1].lstrip("\n").split(CUT_MARKER, 1)[0]


def fit_body(
    body: str, tag: str, limit: int = GITHUB_COMMENT_LIMIT, *, link: str | None = None
) -> tuple[str, bool]:
    """``tag`` + ``body``, cut (see ``reports.cut_markdown``) to ``limit`` characters with a
    pointer to the summary of run ``link`` (default: this run), where the whole report is."""
    link = link or run_url()
    where = (
        f"the whole report is in [the run's summary]({link})"
        if link
        else ("the whole report is in the job's step summary")
    )
    cut = cut_markdown(body, limit - len(tag) - 1, where, marker=CUT_MARKER)
    return f"{tag}\n{cut}", cut is not body


def pull_request_number(event_path: str | None = None) -> int | None:
    """The pull request of a ``pull_request``/``pull_request_target`` event, else None."""
    number = event_pull_request(event_path).get("number")
    return number if isinstance(number, int) else None
