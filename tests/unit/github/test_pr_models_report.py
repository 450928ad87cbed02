"""A multi-model pull request run's report (``post_models_report``) against the fake GitHub:
one ``mlops-pr-report-<model>`` artifact per model it ran, one comment, a status per model
and ``mlops/gate`` over them, which never passes for a run that reported nothing."""

from __future__ import annotations

import pytest

from mlops_actions.errors import ReportRefused
from mlops_actions.github.client import GitHubClient
from mlops_actions.github.pr_report import post_models_report

from .test_pr_report import FOLLOW_UP, GATE, HEAD, RUN, fork_pr, verdict, zipped  # noqa: F401


def post(fake_github, artifacts: dict[str, dict[str, str]]):
    for artifact_id, (name, files) in enumerate(artifacts.items(), start=20):
        fake_github.add_artifact(RUN, artifact_id, name, zipped(files))
    token = fake_github.issue_token(FOLLOW_UP)
    return post_models_report(
        RUN, client=GitHubClient(token, fake_github.repository, api_url=fake_github.url)
    )


def report(pr: int, gate: str = "passed", gate_status: str = "3 of 3 rules met") -> dict:
    checks = {"validate-data": "passed", "evaluate-gate": gate}
    return {
        "verdict.json": verdict(pr, checks=checks, gate_status=gate_status),
        "validate-data.md": "### Data\n\nrows: 300\n",
        "evaluate-gate.md": GATE,
    }


def statuses(fake_github) -> dict[str, tuple[str, str]]:
    return {s["context"]: (s["state"], s["description"]) for s in fake_github.statuses}


def test_one_comment_a_status_per_model_and_one_over_them(fake_github, fork_pr):  # noqa: F811
    result = post(
        fake_github,
        {
            "mlops-pr-report-churn": report(fork_pr),
            "mlops-pr-report-fraud": report(fork_pr, "failed", "accuracy 0.81 < min 0.9"),
            "drift-report": {"x": "y"},  # not a model's report: ignored
        },
    )
    assert (result.action, result.pr, result.status) == ("posted", fork_pr, "failure")
    (comment,) = fake_github.comments_on(fork_pr)
    body = comment["body"]
    assert "## ❌ 1 of 2 models blocked: <code>fraud</code>" in body
    assert body.count("| accuracy | 0.97 |") == 2  # each model's gate report, in its section
    assert statuses(fake_github) == {
        "mlops/gate: churn": ("success", "3 of 3 rules met"),
        "mlops/gate: fraud": ("failure", "accuracy 0.81 < min 0.9"),
        "mlops/gate": ("failure", "1 of 2 models blocked: fraud"),
    }
    assert all(s["sha"] == HEAD for s in fake_github.statuses)


def test_a_model_whose_gate_did_not_run_is_blocked_not_passed(fake_github, fork_pr):  # noqa: F811
    files = report(fork_pr)
    files["verdict.json"] = verdict(
        fork_pr, checks={"validate-data": "passed", "evaluate-gate": None}, gate_status=""
    )
    result = post(fake_github, {"mlops-pr-report-churn": files})
    assert result.status == "failure"
    assert statuses(fake_github)["mlops/gate: churn"] == ("failure", "the gate did not run")


@pytest.mark.parametrize(
    ("conclusion", "expected"),
    [
        ("success", ("success", "no model is affected by this pull request")),
        ("failure", ("failure", f"run {RUN} ended (failure) before any model reported")),
    ],
)
def test_a_run_without_reports_passes_only_when_it_found_no_model(
    fake_github,
    fork_pr,  # noqa: F811
    conclusion,
    expected,
):
    fake_github.workflow_runs[RUN]["conclusion"] = conclusion
    result = post(fake_github, {})
    assert result.status == expected[0]
    assert statuses(fake_github) == {"mlops/gate": expected}
    assert fake_github.comments_on(fork_pr) == []


def test_reports_naming_different_pull_requests_are_refused(fake_github, fork_pr):  # noqa: F811
    other = fake_github.add_pull_request(fork=True, head_sha=HEAD)
    with pytest.raises(ReportRefused, match="different pull requests"):
        post(
            fake_github,
            {"mlops-pr-report-churn": report(fork_pr), "mlops-pr-report-fraud": report(other)},
        )
    assert fake_github.statuses == [] and fake_github.comments_on(fork_pr) == []
