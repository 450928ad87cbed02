"""A pull request's report, posted by a run that never runs the pull request's code.

The job that trains a pull request's model runs the pull request's code, and for a fork it gets
a read-only token: it cannot comment. So it only packs its reports and verdict as an artifact
(``pack_pr_report``), and ml-pr-report.yml, started by ``workflow_run`` on the default branch
with a token that may comment, posts them (``post_pr_report``): the sticky comment and the
commit status ``mlops/gate: <name>``, exactly as a same-repository pull request gets them.

Whoever opened the pull request controls everything in that artifact (their branch can change
the workflow itself), so it is read as untrusted data: the zip is size-capped and only the
expected members are read, each under a cap; the verdict must have its exact shape; the
markdown is neutralised (``untrusted_markdown``: no raw HTML, so no forged hidden markers, no
@mentions); and the pull request it names must be the one whose head is the commit the
triggering run tested (GitHub's ``pull_requests`` list of a run is empty for forks, so the
number is checked against the pull request's own head instead of taken on trust).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.errors import GitHubError, ReportRefused, UsageError
from mlops_actions.files import atomic_write_json, atomic_write_text
from mlops_actions.github.actions import annotate, event_pull_request
from mlops_actions.github.comment import post_sticky_comment
from mlops_actions.github.status import post_gate_status
from mlops_actions.reports import render

ARTIFACT = "mlops-pr-report"
_MODEL_ARTIFACT = re.compile(r"mlops-pr-report-([A-Za-z0-9._-]{1,100})")
"""A multi-model run's report of one model; the name, a status context, is kept plain."""
MODELS_COMMENT = "(every model)"
"""The key of a multi-model pull request's one comment (no model name has parentheses)."""
VERDICT_FILE = "verdict.json"
SECTIONS = (layout.VALIDATE_DATA, layout.EVALUATE_GATE)
"""The checks of ml-pull-request.yml, in the order they post; each packs ``<section>.md``."""
MAX_ARTIFACT_BYTES = 1 << 20
"""The zip as GitHub stores it; the two reports and the verdict need a few kB."""
MAX_REPORT_CHARS = 256 * 1024
"""One report file; the comment itself is cut under GitHub's 65,536 characters."""
MAX_VERDICT_BYTES = 4096
MAX_DESCRIPTION_CHARS = 140  # what GitHub keeps of a commit status description
_SHA = re.compile(r"[0-9a-f]{40}")
_STATES = ("passed", "failed", None)


@dataclass(frozen=True)
class PrReportResult:
    action: str  # "posted" or "skipped"
    pr: int | None = None
    comment_url: str | None = None
    status: str | None = None  # the commit status state set, if any
    reason: str = ""  # why it was skipped


def pack_pr_report(workdir: str | Path, out: str | Path, *, event_path: str | None = None) -> Path:
    """Write ``out/verdict.json`` and each finished check's ``out/<section>.md`` from the
    stage outputs in ``workdir``, for the pull request of the triggering event."""
    pull = event_pull_request(event_path)
    number, head = pull.get("number"), (pull.get("head") or {}).get("sha")
    if not isinstance(number, int) or not isinstance(head, str):
        raise UsageError(
            "pr-report pack: GITHUB_EVENT_PATH holds no pull_request event; "
            "run it in a workflow triggered by pull_request"
        )
    out = Path(out)
    checks: dict[str, str | None] = {}
    description = ""
    for section in SECTIONS:
        result = _read_result(layout.result_file(workdir, section))
        if result is None:
            checks[section] = None
            continue
        checks[section] = "passed" if result.get("passed") else "failed"
        summary = Path(workdir) / section / layout.SUMMARY_FILE
        atomic_write_text(out / f"{section}.md", summary.read_text(encoding="utf-8"))
        if section == layout.EVALUATE_GATE:
            description = str(result.get("status_line") or "")
    verdict = {"pr": number, "head_sha": head, "checks": checks, "gate_status": description}
    return atomic_write_json(out / VERDICT_FILE, verdict)  # last: its presence means complete


def post_pr_report(
    run_id: int,
    *,
    name: str,
    client: Any = None,
    token_env: str = "GITHUB_TOKEN",
    bot_login: str | None = None,
) -> PrReportResult:
    """Post the report that pull request run ``run_id`` packed: the sticky comment of model
    ``name`` and, when the gate ran, its commit status on the run's head commit.

    Skipped (nothing to post) when the run was not a pull request's or left no artifact;
    ``ReportRefused`` when the artifact names a pull request whose head is not the commit the
    run tested; ``UsageError`` when it is malformed or too large. ``client`` defaults to
    ``GitHubClient.from_env(token_env=token_env)``.
    """
    client = client or _client(token_env, bot_login)
    run = client.get_workflow_run(run_id)
    if run.get("event") != "pull_request":
        return _skipped(f"run {run_id} was started by {run.get('event')!r}, not a pull request")
    artifact = client.find_run_artifact(run_id, ARTIFACT)
    if artifact is None:
        return _skipped(f"run {run_id} left no {ARTIFACT} artifact (it ended before packing it)")
    verdict, files = _read_report(client, run, artifact)
    number = verdict["pr"]
    comment = None
    for section in SECTIONS:
        state = verdict["checks"].get(section)
        text = files.get(f"{section}.md")
        if state is None or text is None:
            continue
        comment = post_sticky_comment(
            untrusted_markdown(text),
            name=name,
            section=section,
            passed=state == "passed",
            pr=number,
            client=client,
            report_url=run.get("html_url"),  # the pull request run's summary: the whole report
        )
        if comment.action == "skipped":
            raise GitHubError(f"PR comment on #{number}: {comment.reason}")
    status = None
    gate = verdict["checks"].get(layout.EVALUATE_GATE)
    if gate is not None:
        status = _status(client, run, name, gate == "passed", verdict["gate_status"])
    return PrReportResult(
        "posted", number, comment.url if comment else None, status, "" if comment else "no check"
    )


def post_models_report(
    run_id: int,
    *,
    client: Any = None,
    token_env: str = "GITHUB_TOKEN",
    bot_login: str | None = None,
) -> PrReportResult:
    """Post what a multi-model pull request run packed, one ``mlops-pr-report-<model>``
    artifact per model it affected: one sticky comment with a section per model, the status
    ``mlops/gate: <model>`` of each, and ``mlops/gate`` over them all, the one check branch
    protection can require whichever models a pull request touches.

    A run that reported no model passes ``mlops/gate`` only when it succeeded (its discovery
    found none affected); a run that failed before any model reported fails it.
    """
    client = client or _client(token_env, bot_login)
    run = client.get_workflow_run(run_id)
    if run.get("event") != "pull_request":
        return _skipped(f"run {run_id} was started by {run.get('event')!r}, not a pull request")
    reports: dict[str, dict[str, Any]] = {}
    for artifact in sorted(client.list_run_artifacts(run_id), key=lambda a: str(a.get("name"))):
        model = _MODEL_ARTIFACT.fullmatch(str(artifact.get("name")))
        if model:
            verdict, files = _read_report(client, run, artifact)
            reports[model[1]] = {"verdict": verdict, "files": files}
    if not reports:
        return _no_model_reported(client, run)
    number = next(iter(reports.values()))["verdict"]["pr"]
    if any(r["verdict"]["pr"] != number for r in reports.values()):
        raise ReportRefused(f"run {run_id}: its artifacts name different pull requests; refused")
    for report in reports.values():
        checks = report["verdict"]["checks"]
        report["passed"] = checks[layout.EVALUATE_GATE] == "passed" and "failed" not in (
            checks.values()
        )
        report["markdown"] = "\n\n".join(
            untrusted_markdown(report["files"][f"{section}.md"])
            for section in SECTIONS
            if checks.get(section) is not None and f"{section}.md" in report["files"]
        )
    comment = post_sticky_comment(
        render("pr_models_comment.md.j2", reports=reports),
        name=MODELS_COMMENT,
        pr=number,
        client=client,
        report_url=run.get("html_url"),
    )
    if comment.action == "skipped":
        raise GitHubError(f"PR comment on #{number}: {comment.reason}")
    for model, report in reports.items():
        gate = report["verdict"]["gate_status"] or "the gate did not run"
        _status(client, run, model, report["passed"], gate)
    blocked = [m for m, r in reports.items() if not r["passed"]]
    summary = (
        f"{len(blocked)} of {len(reports)} models blocked: {', '.join(blocked)}"
        if blocked
        else f"{len(reports)} of {len(reports)} models passed"
    )
    status = _status(client, run, None, not blocked, summary)
    return PrReportResult("posted", number, comment.url, status)


def _no_model_reported(client: Any, run: dict[str, Any]) -> PrReportResult:
    succeeded = run.get("conclusion") == "success"
    text = (
        "no model is affected by this pull request"
        if succeeded
        else f"run {run['id']} ended ({run.get('conclusion')}) before any model reported"
    )
    status = _status(client, run, None, succeeded, text)
    return PrReportResult("posted", None, None, status, text)


def _client(token_env: str, bot_login: str | None) -> Any:
    from mlops_actions.github.client import GitHubClient

    options = {"bot_login": bot_login} if bot_login else {}
    return GitHubClient.from_env(token_env=token_env, **options)


def _read_report(
    client: Any, run: dict[str, Any], artifact: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """One packed report of ``run``: its verdict, verified against the run, and its files."""
    if int(artifact.get("size_in_bytes") or 0) > MAX_ARTIFACT_BYTES:
        raise UsageError(
            f"artifact {artifact['name']} of run {run['id']}: {artifact['size_in_bytes']:,} "
            f"bytes, over the {MAX_ARTIFACT_BYTES:,} accepted; refused"
        )
    files = read_artifact(client.download_artifact(artifact["id"], max_bytes=MAX_ARTIFACT_BYTES))
    verdict = parse_verdict(files.get(VERDICT_FILE))
    _verify(client, verdict, run)
    return verdict, files


def _status(
    client: Any, run: dict[str, Any], name: str | None, passed: bool, description: str
) -> str:
    """Commit status ``mlops/gate: <name>`` (``mlops/gate`` for every model) on the run's head."""
    posted = post_gate_status(
        passed,
        one_line_text(description, MAX_DESCRIPTION_CHARS),
        name=name,
        sha=str(run["head_sha"]),
        target_url=run.get("html_url"),
        client=client,
    )
    if posted.state is None:
        raise GitHubError(f"commit status on {run['head_sha']}: {posted.reason}")
    return posted.state


def read_artifact(data: bytes) -> dict[str, str]:
    """The artifact's known members as text: the verdict and each section's markdown; any
    other member is ignored, and one over its cap or not UTF-8 is refused."""
    wanted = {
        VERDICT_FILE: MAX_VERDICT_BYTES,
        **{f"{s}.md": MAX_REPORT_CHARS * 4 for s in SECTIONS},
    }
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
        files = {}
        for member, cap in wanted.items():
            info = members.get(member)
            if info is None:
                continue
            with archive.open(info) as fh:  # read one byte past the cap: the header may lie
                raw = fh.read(cap + 1)
            if len(raw) > cap:
                raise UsageError(f"artifact {ARTIFACT}: {member} is over {cap:,} bytes; refused")
            text = raw.decode("utf-8")
            if member.endswith(".md") and len(text) > MAX_REPORT_CHARS:
                raise UsageError(
                    f"artifact {ARTIFACT}: {member} is over {MAX_REPORT_CHARS:,} characters; refused"
                )
            files[member] = text
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise UsageError(f"artifact {ARTIFACT}: not a readable zip ({exc}); refused") from None
    except UnicodeDecodeError:
        raise UsageError(f"artifact {ARTIFACT}: {member} is not UTF-8 text; refused") from None
    return files


def parse_verdict(text: str | None) -> dict[str, Any]:
    """The verdict, exactly ``{pr, head_sha, checks: {section: passed|failed|null}, gate_status}``."""
    where = f"artifact {ARTIFACT}: {VERDICT_FILE}"
    if text is None:
        raise UsageError(f"{where} is missing; refused")
    try:
        verdict = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON ({exc}); refused") from None
    if not isinstance(verdict, dict) or set(verdict) != {"pr", "head_sha", "checks", "gate_status"}:
        raise UsageError(f"{where} must have exactly pr, head_sha, checks, gate_status; refused")
    number = verdict["pr"]
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise UsageError(f"{where}: pr must be a pull request number, got {number!r}; refused")
    if not isinstance(verdict["head_sha"], str) or not _SHA.fullmatch(verdict["head_sha"]):
        raise UsageError(f"{where}: head_sha must be a 40-character commit sha; refused")
    checks = verdict["checks"]
    if (
        not isinstance(checks, dict)
        or set(checks) != set(SECTIONS)
        or any(state not in _STATES for state in checks.values())
    ):
        raise UsageError(
            f"{where}: checks must map {', '.join(SECTIONS)} to 'passed', 'failed' or null; refused"
        )
    if not isinstance(verdict["gate_status"], str) or len(verdict["gate_status"]) > 1000:
        raise UsageError(f"{where}: gate_status must be a short text; refused")
    return verdict


def _verify(client: Any, verdict: dict[str, Any], run: dict[str, Any]) -> None:
    """The pull request the artifact names must be the one whose head is the run's commit,
    from the run's head repository; the artifact itself must say that commit."""
    number, head = verdict["pr"], run.get("head_sha")
    head_repo = (run.get("head_repository") or {}).get("full_name")
    if verdict["head_sha"] != head:
        raise ReportRefused(
            f"artifact {ARTIFACT} is about commit {verdict['head_sha'][:12]}, but the run "
            f"tested {str(head)[:12]}; refused"
        )
    pull = client.get_pull(number)
    pull_head = (pull or {}).get("head") or {}
    if pull is None or pull_head.get("sha") != head:
        raise ReportRefused(
            f"artifact {ARTIFACT} names pull request #{number}, whose head is not commit "
            f"{str(head)[:12]} that the run tested (another pull request's number, or it has "
            "moved on and its newer run reports); refused"
        )
    if (pull_head.get("repo") or {}).get("full_name") != head_repo:
        raise ReportRefused(
            f"artifact {ARTIFACT} names pull request #{number}, which comes from "
            f"{(pull_head.get('repo') or {}).get('full_name')}, not {head_repo} where the run's "
            "commit is; refused"
        )


def _skipped(reason: str) -> PrReportResult:
    annotate("notice", f"PR report skipped: {reason}")
    return PrReportResult("skipped", reason=reason)


_ALLOWED_TAG = re.compile(
    r"</?(?:details|summary|code|b|strong|i|em|sub|sup|kbd|p|br|hr)\s*/?>", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MENTION = re.compile(r"(?<![\w`])([@#])(?=[A-Za-z0-9])")
_ZWSP = "\u200b"


def untrusted_markdown(text: str) -> str:
    """Markdown someone else wrote, made safe to post as the bot.

    No raw HTML but a few bare formatting tags (``<details>``, ``<summary>``, ``<code>``, …,
    without attributes): every other ``<`` becomes ``&lt;``, so no ``<!-- -->`` marker can be
    forged (the sticky comment's sections and verdicts are found by them), no tag or
    attribute reaches GitHub's renderer. An invisible space after ``@`` and ``#`` before a
    letter or digit, so nobody is @mentioned and no issue is cross-referenced; control and
    invisible characters dropped. Markdown itself (tables, links, emphasis) stays.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    parts = []
    position = 0
    for tag in _ALLOWED_TAG.finditer(text):
        parts += [_inert(text[position : tag.start()]), tag.group(0)]
        position = tag.end()
    parts.append(_inert(text[position:]))
    return "".join(parts)


def _inert(text: str) -> str:
    return _MENTION.sub(lambda m: m.group(1) + _ZWSP, text.replace("<", "&lt;"))


def one_line_text(value: str, width: int) -> str:
    """Plain text for a commit status description: one line, no control characters, cut."""
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable result.json ({exc})") from None
    return data if isinstance(data, dict) else None
