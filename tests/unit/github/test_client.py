"""GitHubClient against the fake GitHub: operations, pagination, faults, errors, secrecy."""

from __future__ import annotations

import socket

import pytest

from mlops_actions.errors import GitHubError, UsageError
from mlops_actions.github.client import GitHubClient

SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


@pytest.fixture
def client(fake_github) -> GitHubClient:
    return GitHubClient.from_env(backoff=0.01, max_wait=5.0)  # default timeouts: nothing here hangs


def test_issue_lifecycle_for_drift_alerts(fake_github, client):
    fake_github.add_pull_request(title="Drift alert")  # a PR with the same title must not be found
    created = client.create_issue("Drift alert", "psi 0.4", labels=["drift"])
    client.create_issue("Drift alert", "unlabelled duplicate")

    found = client.find_issue("Drift alert", labels=["drift"])
    assert found["number"] == created["number"]
    client.create_issue_comment(found["number"], "still drifting")
    client.update_issue(found["number"], state="closed", state_reason="completed")

    assert client.find_issue("Drift alert", labels=["drift"]) is None
    assert client.get_issue(created["number"])["state"] == "closed"
    (comment,) = fake_github.comments_on(created["number"])
    assert comment["body"].startswith("still drifting\n<!-- mlops-actions:write:")


def test_list_follows_link_headers_verbatim_past_100(fake_github, client):
    number = fake_github.add_pull_request()
    for i in range(230):
        fake_github.add_comment(number, f"comment {i}")

    bodies = [c["body"] for c in client.iter_issue_comments(number)]

    assert bodies == [f"comment {i}" for i in range(230)]
    pages = [e.path for e in fake_github.exchanges if e.operation_id == "issues/list-comments"]
    assert len(pages) == 3
    # pages 2 and 3 are GitHub's rewritten /repositories/{id} URLs, requested as given
    assert all("/repositories/1000/" in path for path in pages[1:])


def test_releases_statuses_and_deployments(fake_github, client):
    fake_github.add_pull_request(head_sha=SHA)
    release = client.create_release("model-v1", body="metrics")
    assert client.get_release_by_tag("model-v1")["id"] == release["id"]
    assert client.get_release_by_tag("no-such-tag") is None

    client.create_commit_status(SHA, "success", context="mlops/gate", description="accuracy 0.97")
    deployment = client.create_deployment("main", environment="staging", payload={"model": "v1"})
    client.create_deployment_status(
        deployment["id"], "success", environment_url="http://127.0.0.1:9/"
    )

    assert [d["id"] for d in fake_github.deployments.values()] == [deployment["id"]]
    assert [(s["state"], s["context"]) for s in fake_github.statuses] == [("success", "mlops/gate")]
    assert [s["state"] for s in fake_github.deployment_statuses] == ["success"]


def test_release_asset_reupload_replaces_instead_of_duplicating(fake_github, client):
    release = client.create_release("model-v2")
    assert release["upload_url"].startswith(fake_github.uploads_url)

    client.upload_release_asset(release, "model.onnx", b"first", content_type="application/zip")
    second = client.upload_release_asset(release, "model.onnx", b"second run")

    assert [a["name"] for a in client.list_release_assets(release["id"])] == ["model.onnx"]
    assert fake_github.asset_data == {second["id"]: b"second run"}
    # the conflict path GitHub documents: 422 already_exists -> list -> delete -> upload
    assert [(e.operation_id, e.status) for e in fake_github.exchanges[-5:-1]] == [
        ("repos/upload-release-asset", 422),
        ("repos/list-release-assets", 200),
        ("repos/delete-release-asset", 204),
        ("repos/upload-release-asset", 201),
    ]


def test_dispatch_sends_204_event_with_a_run_scoped_id(fake_github, client, monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    dispatch_id = client.dispatch("retrain", {"model": "iris", "reason": "drift"})
    assert dispatch_id.startswith("4242.2.")
    assert fake_github.dispatches == [
        {
            "event_type": "retrain",
            "client_payload": {"dispatch_id": dispatch_id, "model": "iris", "reason": "drift"},
        }
    ]
    assert fake_github.exchanges[-1].status == 204
    assert client.dispatch("retrain") != dispatch_id  # one id per dispatch, not per run


@pytest.mark.parametrize(
    ("event_type", "payload", "words"),
    [
        ("retrain", {f"k{i}": i for i in range(10)}, "11 top-level keys with dispatch_id"),
        ("x" * 101, None, "1..100 characters"),
        ("retrain", {"blob": "x" * 70_000}, "under 64 KB"),
    ],
)
def test_dispatch_outside_githubs_limits_is_refused_before_sending(
    fake_github, client, event_type, payload, words
):
    with pytest.raises(UsageError, match=words):
        client.dispatch(event_type, payload)
    assert fake_github.exchanges == []


def test_5xx_burst_is_retried_without_duplicating(fake_github, client):
    fake_github.fail_next(2, status=502)  # answered before anything is written
    client.create_issue("Drift alert", "once")
    assert len(fake_github.issues) == 1
    # the create looks before it sends again; the look is a GET, retried blindly
    assert [(e.method, e.status) for e in fake_github.exchanges] == [
        ("POST", 502),
        ("GET", 502),
        ("GET", 200),
        ("POST", 201),
    ]


def test_5xx_that_does_not_stop_is_reported(fake_github, client):
    fake_github.fail_next(10, status=503)
    with pytest.raises(GitHubError, match=r"503 .*githubstatus") as caught:
        client.get_issue(1)
    assert caught.value.status == 503
    assert len(fake_github.exchanges) == 1 + client.retries


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_is_waited_out_when_short(fake_github, client, status):
    fake_github.exhaust_rate_limit(1.0, status=status)
    number = client.create_issue("after the limit")["number"]
    assert fake_github.issues[number]["title"] == "after the limit"
    assert fake_github.exchanges[0].status == status


def test_primary_rate_limit_too_long_is_reported(fake_github, client):
    fake_github.exhaust_rate_limit(3600)
    with pytest.raises(
        GitHubError, match=r"primary rate limit is exhausted for \d+ s more"
    ) as caught:
        client.create_issue("never")
    assert caught.value.status == 403
    assert fake_github.issues == {}


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_with_retry_after_is_waited_out(fake_github, client, status):
    fake_github.secondary_limit(1, status=status, retry_after=1)
    client.dispatch("retrain")
    assert [e.status for e in fake_github.exchanges] == [status, 204]


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_without_retry_after_is_reported(fake_github, client, status):
    # GitHub's rule without retry-after: wait at least a minute, longer than this client may
    fake_github.secondary_limit(1, status=status)
    with pytest.raises(GitHubError, match="secondary rate limit") as caught:
        client.dispatch("retrain")
    assert caught.value.status == status
    assert fake_github.dispatches == []


def test_slow_response_times_out_and_is_retried(fake_github):
    # the first request hangs for good, so only the retry can answer; the read timeout is
    # generous because the retry's answer (spec-checked by the fake) must beat it on a busy machine
    client = GitHubClient.from_env(timeout=(5.0, 5.0), backoff=0.01)
    number = fake_github.add_pull_request()
    fake_github.hang_next(1)
    assert client.get_issue(number)["number"] == number
    assert fake_github.faults.hang == 0


def test_server_that_never_answers_in_time_is_reported(fake_github):
    client = GitHubClient.from_env(timeout=(5.0, 0.2), retries=1, backoff=0.01)
    fake_github.hang_next(5)  # no answer ever: any timeout expires, however loaded the machine
    with pytest.raises(GitHubError, match="no answer from .* after 1 retries"):
        client.get_issue(1)


def test_unreachable_api_is_reported():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GitHubClient(
        "ghs_x", "o/r", api_url=f"http://127.0.0.1:{port}", retries=1, backoff=0.01
    )
    with pytest.raises(GitHubError, match="check GITHUB_API_URL") as caught:
        client.get_issue(1)
    assert caught.value.status is None


def test_unknown_repository_says_to_check_github_repository(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/missing")
    with pytest.raises(
        GitHubError, match="not found in octo-org/missing .*check GITHUB_REPOSITORY"
    ) as caught:
        GitHubClient.from_env().create_issue("x")
    assert caught.value.status == 404


def test_missing_permission_names_the_permissions_line(fake_github, client):
    fake_github.forbid("repos/create-release")
    with pytest.raises(
        GitHubError,
        match=r"token lacks contents: write .*add `permissions: contents: write` to the job",
    ):
        client.create_release("v1")


def test_validation_failure_names_field_and_code(fake_github, client):
    client.create_release("v1")
    with pytest.raises(
        GitHubError, match="422 Validation Failed: Release tag_name already_exists"
    ) as caught:
        client.create_release("v1")
    assert caught.value.status == 422
    assert "\n" not in str(caught.value)


def test_missing_environment_is_a_one_line_fix(monkeypatch):
    monkeypatch.delenv("MLOPS_GH_TOKEN", raising=False)
    with pytest.raises(GitHubError, match="MLOPS_GH_TOKEN is not set: add `env: MLOPS_GH_TOKEN"):
        GitHubClient.from_env(token_env="MLOPS_GH_TOKEN")
    monkeypatch.setenv("MLOPS_GH_TOKEN", "ghs_x")
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    with pytest.raises(GitHubError, match="GITHUB_REPOSITORY is not set"):
        GitHubClient.from_env(token_env="MLOPS_GH_TOKEN")


def test_token_is_masked_and_never_in_errors_or_output(fake_github, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    client = GitHubClient.from_env(backoff=0.01, retries=1)
    messages = [repr(client)]
    fake_github.forbid("issues/create")
    for call in (
        lambda: client.create_issue("x"),  # 403
        lambda: client.get_issue(999),  # 404
        lambda: client.update_issue_comment(1, "x"),  # 404 on PATCH
        lambda: (fake_github.fail_next(2), client.get_issue(1)),  # 502 after its one retry
    ):
        with pytest.raises(GitHubError) as caught:
            call()
        messages.append(str(caught.value))
    bad_token = GitHubClient(
        "ghs_wrong_secret_value", fake_github.repository, api_url=fake_github.url
    )
    with pytest.raises(GitHubError, match="401") as caught:
        bad_token.get_issue(1)
    messages.append(str(caught.value))

    out = capsys.readouterr()
    assert all(fake_github.token not in m and "ghs_wrong_secret_value" not in m for m in messages)
    # the only place the token is printed is the runner's mask command, once per client
    assert out.out.count(fake_github.token) == 1
    assert f"::add-mask::{fake_github.token}\n" in out.out
    assert fake_github.token not in out.err
