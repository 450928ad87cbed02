"""A write to GitHub happens once even when its answer is lost.

The fake applies the write, then answers 502 (or nothing, until the client times out): the
client cannot know it landed. Idempotent methods are retried blindly; a create looks for
what it made before it sends again.
"""

from __future__ import annotations

import pytest

from mlops_actions.github.client import GitHubClient
from mlops_actions.github.comment import marker, post_sticky_comment

SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


@pytest.fixture
def client(fake_github) -> GitHubClient:
    return GitHubClient.from_env(backoff=0.01, max_wait=5.0)


def sent(fake_github, operation_id: str) -> list[int]:
    return [e.status for e in fake_github.exchanges if e.operation_id == operation_id]


def test_sticky_comment_whose_answer_is_lost_is_made_once(fake_github, client):
    pr = fake_github.add_pull_request()
    fake_github.lose_answer("issues/create-comment")

    result = post_sticky_comment("gate report", name="iris", pr=pr, client=client)

    (comment,) = fake_github.comments_on(pr)
    assert (result.action, result.comment_id) == ("created", comment["id"])
    assert comment["body"] == f"{marker('iris')}\ngate report"
    assert sent(fake_github, "issues/create-comment") == [502]  # found, not sent again


def test_plain_comment_whose_answer_is_lost_is_made_once(fake_github, client):
    number = client.create_issue("Data drift detected: iris")["number"]
    client.create_issue_comment(number, "Drift found again.")  # same text, an earlier run
    fake_github.lose_answer("issues/create-comment")

    made = client.create_issue_comment(number, "Drift found again.")

    comments = fake_github.comments_on(number)
    assert len(comments) == 2  # the earlier run's and this one, not a third
    assert made["id"] == comments[-1]["id"]


def test_issue_whose_answer_is_lost_is_opened_once(fake_github, client):
    fake_github.lose_answer("issues/create")

    made = client.create_issue("Data drift detected: iris", "psi 0.4", labels=["drift-alert"])

    (issue,) = fake_github.issues.values()
    assert made["number"] == issue["number"]
    assert issue["body"].startswith("psi 0.4\n<!-- mlops-actions:write:")
    assert sent(fake_github, "issues/create") == [502]


def test_issue_create_that_times_out_after_landing_is_opened_once(fake_github):
    client = GitHubClient.from_env(timeout=(5.0, 0.5), backoff=0.01)
    fake_github.lose_answer("issues/create", status=None)  # applied, then no answer at all

    made = client.create_issue("Data drift detected: iris", labels=["drift-alert"])

    assert [i["number"] for i in fake_github.issues.values()] == [made["number"]]


def test_release_whose_answer_is_lost_is_created_once(fake_github, client):
    fake_github.lose_answer("repos/create-release")

    made = client.create_release("iris-v1", body="metrics")

    (release,) = fake_github.releases.values()
    assert (made["id"], made["tag_name"]) == (release["id"], "iris-v1")


def test_dispatch_sent_again_carries_the_same_id(fake_github, client):
    fake_github.lose_answer("repos/create-dispatch-event")

    dispatch_id = client.dispatch("drift-detected", {"model": "iris"})

    # GitHub lists no dispatches: the duplicate is unavoidable and recognisable
    assert [d["client_payload"]["dispatch_id"] for d in fake_github.dispatches] == [
        dispatch_id,
        dispatch_id,
    ]


def test_asset_upload_whose_answer_is_lost_leaves_one_asset(fake_github, client):
    release = client.create_release("iris-v1")
    fake_github.lose_answer("repos/upload-release-asset")

    client.upload_release_asset(release, "model.onnx", b"onnx bytes")

    assert [a["name"] for a in client.list_release_assets(release["id"])] == ["model.onnx"]
    assert list(fake_github.asset_data.values()) == [b"onnx bytes"]


def test_deployment_whose_answer_is_lost_is_created_once(fake_github, client):
    fake_github.lose_answer("repos/create-deployment")

    made = client.create_deployment(SHA, environment="production", payload={"model": "iris"})

    (deployment,) = fake_github.deployments.values()
    assert made["id"] == deployment["id"]
    assert deployment["payload"]["model"] == "iris"


def test_update_whose_answer_is_lost_is_retried_blindly(fake_github, client):
    pr = fake_github.add_pull_request()
    comment = fake_github.add_comment(pr, "old")
    fake_github.lose_answer("issues/update-comment")

    client.update_issue_comment(comment["id"], "new")

    assert fake_github.comments[comment["id"]]["body"] == "new"
    assert sent(fake_github, "issues/update-comment") == [502, 200]  # same state twice
