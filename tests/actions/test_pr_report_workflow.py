"""The fork-report pattern's static rules: the job that runs a pull request's code holds a
read-only token and only packs; the workflow_run job that may write never runs it."""

from __future__ import annotations

import re

import yaml

from support import REPO

PR = REPO / "workflows" / "ml-pull-request.yml"
REPORT = REPO / "workflows" / "ml-pr-report.yml"
WORKFLOWS = sorted(
    [
        *REPO.glob(".github/workflows/*.yml"),
        *REPO.glob("workflows/*.yml"),
        *REPO.glob("examples/*/.github/workflows/*.yml"),
    ]
)


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_pull_request_job_holds_a_read_token_and_uploads_the_report():
    job = load(PR)["jobs"]["checks"]
    assert job["permissions"] == {"contents": "read"}
    uploads = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert [s["with"]["name"] for s in uploads] == ["mlops-pr-report"]
    assert all(s["if"] == "${{ !cancelled() }}" for s in uploads)  # a failed gate reports too
    for step in job["steps"]:
        assert not {"comment", "status"} & set(step.get("with") or {}), step  # it never posts


def test_the_report_job_never_runs_the_pull_requests_code():
    doc = load(REPORT)
    assert doc["name"] == "ml-pr-report" and load(PR)["name"] == "ml-pull-request"
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert len(checkouts) == 1 and set(checkouts[0]["with"]) == {"persist-credentials"}  # no ref:
    assert not any("download-artifact" in str(s.get("uses", "")) for s in job["steps"])
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]


def test_the_only_zizmor_ignore_is_the_workflow_run_trigger_with_its_reason():
    for path in WORKFLOWS:
        text = path.read_text()
        ignores = re.findall(r"^(.*)# zizmor: ignore\[([\w-]+)\]", text, re.MULTILINE)
        if path.name != "ml-pr-report.yml" or path.parent == REPO / ".github" / "workflows":
            assert not ignores, path  # the reusable one is workflow_call: nothing to ignore
            continue
        assert ignores == [("  workflow_run: ", "dangerous-triggers")], path
        assert "never the\n  # pull request's code" in text and "untrusted data" in text
