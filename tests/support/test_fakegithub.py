"""The fake GitHub itself: it must hold clients to GitHub's contract and answer like GitHub."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap

import pytest
import requests

from support import TESTS


@pytest.fixture
def session(fake_github) -> requests.Session:
    """A plain session with GitHub's headers, for requests the project's client would never send."""
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {fake_github.token}", "User-Agent": "fake-github-tests"}
    )
    return session


def repo_url(fake_github, tail: str) -> str:
    return f"{fake_github.url}/repos/{fake_github.repository}{tail}"


def test_request_breaking_the_spec_fails_the_test(tmp_path):
    # a test that sends an issue without its required title must fail, even though it asserts nothing
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["support.fakegithub.plugin"]\n')
    (tmp_path / "test_breaks_contract.py").write_text(
        textwrap.dedent("""
        import requests

        def test_sends_issue_without_title(fake_github):
            requests.post(f"{fake_github.url}/repos/{fake_github.repository}/issues",
                          json={"body": "no title"}, headers={"Authorization": f"token {fake_github.token}"})
    """)
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent / "src")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed, 1 error" in run.stdout
    assert "POST /api/v3/repos/octo-org/models/issues:" in run.stdout
    assert "'title' is a required property" in run.stdout


def test_invalid_body_gets_422_and_is_recorded(fake_github, session):
    resp = session.post(repo_url(fake_github, "/statuses/abc"), json={"state": "green"})
    assert resp.status_code == 422
    assert resp.json()["message"].startswith("Invalid request")
    (violation,) = fake_github.take_violations()
    assert "POST" in violation and "state" in violation


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"{not json", "Problems parsing JSON"), (b"[1, 2]", "Body should be a JSON object")],
)
def test_bad_json_gets_400(fake_github, session, data, message):
    resp = session.post(
        repo_url(fake_github, "/issues"), data=data, headers={"Content-Type": "application/json"}
    )
    assert (resp.status_code, resp.json()["message"]) == (400, message)
    assert len(fake_github.take_violations()) == 1


def test_operations_outside_the_contract_are_404_and_recorded(fake_github, session):
    for url in (
        f"{fake_github.url}/user",
        f"{fake_github.url}/repos/{fake_github.repository}",
        f"{fake_github.url}/graphql",
    ):
        assert session.get(url).status_code == 404
    assert len(fake_github.take_violations()) == 3


def test_user_agent_is_required(fake_github):
    # http.client, because requests and urllib3 always add a User-Agent
    host = fake_github.url.split("//")[1].split("/")[0]
    conn = http.client.HTTPConnection(host, timeout=5)
    conn.request(
        "GET",
        f"/api/v3/repos/{fake_github.repository}/issues",
        headers={"Authorization": f"token {fake_github.token}"},
    )
    resp = conn.getresponse()
    assert resp.status == 403
    assert "User-Agent" in json.loads(resp.read())["message"]
    conn.close()
    assert len(fake_github.take_violations()) == 1


def test_bad_token_is_401_and_unknown_repo_404(fake_github, session):
    assert (
        requests.get(
            repo_url(fake_github, "/issues"), headers={"Authorization": "token nope"}
        ).status_code
        == 401
    )
    assert session.get(f"{fake_github.url}/repos/someone/else/issues").status_code == 404


def test_pagination_caps_per_page_and_links_like_github(fake_github, session):
    number = fake_github.add_pull_request()
    for i in range(150):
        fake_github.add_comment(number, f"c{i}")

    first = session.get(
        repo_url(fake_github, f"/issues/{number}/comments"), params={"per_page": 500}
    )
    assert len(first.json()) == 100
    assert set(first.links) == {"next", "last"}
    assert "per_page=100" in first.links["next"]["url"]
    second = session.get(first.links["next"]["url"])
    assert [c["body"] for c in second.json()] == [f"c{i}" for i in range(100, 150)]
    assert set(second.links) == {"prev", "first"}
    assert "Link" not in session.get(repo_url(fake_github, "/releases")).headers  # fits on one page


def test_every_answer_carries_rate_limit_headers_and_creates_carry_location(fake_github, session):
    created = session.post(repo_url(fake_github, "/issues"), json={"title": "t"})
    missing = session.get(repo_url(fake_github, "/issues/999"))
    dispatched = session.post(repo_url(fake_github, "/dispatches"), json={"event_type": "e"})

    for resp in (created, missing, dispatched):
        assert {
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-used",
            "x-ratelimit-reset",
            "x-ratelimit-resource",
        } <= {h.lower() for h in resp.headers}
    assert created.status_code == 201 and created.headers["Location"] == created.json()["url"]
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    assert (dispatched.status_code, dispatched.content) == (204, b"")
    assert int(dispatched.headers["x-ratelimit-remaining"]) < int(
        created.headers["x-ratelimit-remaining"]
    )


def test_dispatch_with_more_than_ten_keys_is_422(fake_github, session):
    payload = {"event_type": "e", "client_payload": {f"k{i}": i for i in range(11)}}
    assert session.post(repo_url(fake_github, "/dispatches"), json=payload).status_code == 422
    assert fake_github.dispatches == []
    assert len(fake_github.take_violations()) == 1


def test_uploads_live_on_their_own_base_and_refuse_the_api_one(fake_github, session):
    release = session.post(repo_url(fake_github, "/releases"), json={"tag_name": "v1"}).json()
    upload = release["upload_url"].split("{")[0]
    assert upload.startswith(fake_github.uploads_url + "/")

    wrong = session.post(
        repo_url(fake_github, f"/releases/{release['id']}/assets"),
        params={"name": "a.txt"},
        data=b"x",
    )
    right = session.post(
        upload, params={"name": "a.txt"}, data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert wrong.status_code == 404
    assert right.status_code == 201 and right.json()["content_type"] == "text/plain"
    assert len(fake_github.take_violations()) == 1


def test_pygithub_sees_the_same_github(fake_github):
    """A third-party client, built against real GitHub, works against the fake where they overlap."""
    from github import Auth, Github

    gh = Github(
        base_url=fake_github.url,
        auth=Auth.Token(fake_github.token),
        per_page=50,
        retry=None,
        lazy=True,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    repo = gh.get_repo(fake_github.repository)
    issue = repo.create_issue(title="Drift alert: iris", body="psi 0.31", labels=["drift"])
    for i in range(60):
        issue.create_comment(f"run {i}")
    pr = fake_github.add_pull_request()
    repo.get_issue(pr).create_comment("from PyGithub on a PR")

    assert [c.body for c in issue.get_comments()] == [f"run {i}" for i in range(60)]
    titles = [
        (i.number, i.title, i.pull_request is not None)
        for i in repo.get_issues(state="open", labels=["drift"])
    ]
    assert titles == [(issue.number, "Drift alert: iris", False)]
    assert [i.number for i in repo.get_issues(state="all")] == [
        pr,
        issue.number,
    ]  # newest first, PRs too
    assert fake_github.comments_on(pr)[0]["body"] == "from PyGithub on a PR"
    repo.get_issue(issue.number).edit(state="closed")
    assert fake_github.issues[issue.number]["state"] == "closed"


def test_lost_answer_applies_the_write_then_answers_502(fake_github, session):
    fake_github.lose_answer("issues/create")
    lost = session.post(repo_url(fake_github, "/issues"), json={"title": "t"})
    answered = session.post(repo_url(fake_github, "/issues"), json={"title": "t"})

    assert (lost.status_code, answered.status_code) == (502, 201)
    assert [i["title"] for i in fake_github.issues.values()] == ["t", "t"]  # both landed


def test_authors_come_from_the_token_and_outsiders_cannot_label(fake_github, session):
    outsider = fake_github.add_user("mallory")
    ours = session.post(repo_url(fake_github, "/issues"), json={"title": "a", "labels": ["x"]})
    theirs = requests.post(
        repo_url(fake_github, "/issues"),
        json={"title": "a", "labels": ["x"]},
        headers={"Authorization": f"token {outsider}", "User-Agent": "mallory"},
    )

    assert (ours.json()["user"]["login"], ours.json()["user"]["type"]) == (
        "github-actions[bot]",
        "Bot",
    )
    assert [label["name"] for label in ours.json()["labels"]] == ["x"]
    assert (theirs.json()["user"]["login"], theirs.json()["labels"]) == ("mallory", [])
