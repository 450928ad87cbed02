"""The fake GitHub itself: it must hold clients to GitHub's contract and answer like GitHub."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading

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


# -- the repository: contents, git database and asset downloads -------------------------------
# What the registry's compare-and-swap relies on, checked against the fake directly and against
# PyGithub where they overlap: 201/200 on create/update, 422 on creating a file that exists, 409
# on a stale blob sha and on two writes overlapping on one branch, fast-forward-only ref updates,
# `git hash-object` ids, base64 in 60-character lines, downloads that must not carry the token.


def put(session, fake_github, path: str, data: bytes, **fields):
    body = {"message": f"write {path}", "content": base64.b64encode(data).decode(), **fields}
    return session.put(repo_url(fake_github, f"/contents/{path}"), json=body)


def test_contents_writes_are_a_compare_and_swap_on_the_blob_sha(fake_github, session):
    created = put(session, fake_github, "iris/aliases/production.json", b"v1")
    assert created.status_code == 201
    first = created.json()["content"]["sha"]
    hashed = subprocess.run(
        ["git", "hash-object", "--stdin"], input=b"v1", capture_output=True, check=True
    )
    assert first == hashed.stdout.decode().strip()  # git's own blob id

    exists = put(session, fake_github, "iris/aliases/production.json", b"v2")
    assert exists.status_code == 422 and '"sha" wasn\'t supplied' in exists.json()["message"]
    updated = put(session, fake_github, "iris/aliases/production.json", b"v2", sha=first)
    assert updated.status_code == 200
    stale = put(session, fake_github, "iris/aliases/production.json", b"v3", sha=first)
    assert stale.status_code == 409
    assert stale.json()["message"] == f"iris/aliases/production.json does not match {first}"

    read = session.get(repo_url(fake_github, "/contents/iris/aliases/production.json"))
    assert read.status_code == 200 and base64.b64decode(read.json()["content"]) == b"v2"
    assert read.json()["sha"] == updated.json()["content"]["sha"]
    missing = put(session, fake_github, "x.json", b"x", branch="no-such-branch")
    assert missing.status_code == 404


def test_contents_come_in_base64_lines_and_unchanged_reads_are_free(fake_github, session):
    data = bytes(range(256)) * 3
    put(session, fake_github, "blob.bin", data)
    first = session.get(repo_url(fake_github, "/contents/blob.bin"))
    lines = first.json()["content"].split("\n")
    assert {len(line) for line in lines[:-2]} == {60} and lines[-1] == ""
    assert base64.b64decode(first.json()["content"]) == data
    used = int(first.headers["x-ratelimit-used"])
    again = session.get(
        repo_url(fake_github, "/contents/blob.bin"),
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and int(again.headers["x-ratelimit-used"]) == used


def test_two_writes_overlapping_on_one_branch_conflict_even_for_different_files(
    fake_github, session
):
    """The spec's note on create-or-update-file-contents: parallel writes on a branch conflict."""
    fake_github.write_latency = 0.5
    answers = {}

    def write(name: str) -> None:
        answers[name] = put(session, fake_github, f"{name}.json", name.encode())

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [201, 409], statuses
    (lost,) = [r for r in answers.values() if r.status_code == 409]
    assert " but expected " in lost.json()["message"]
    fake_github.write_latency = 0.0
    name = next(n for n, r in answers.items() if r.status_code == 409)
    assert put(session, fake_github, f"{name}.json", name.encode()).status_code == 201


def test_refs_move_by_fast_forward_only(fake_github, session):
    def post(tail: str, body: dict) -> dict:
        resp = session.post(repo_url(fake_github, tail), json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    tree = post(
        "/git/trees",
        {"tree": [{"path": "a/b.txt", "mode": "100644", "type": "blob", "content": "x"}]},
    )
    root = post("/git/commits", {"message": "root", "tree": tree["sha"], "parents": []})
    child = post(
        "/git/commits", {"message": "child", "tree": tree["sha"], "parents": [root["sha"]]}
    )
    other = post("/git/commits", {"message": "other", "tree": tree["sha"], "parents": []})
    post("/git/refs", {"ref": "refs/heads/reg", "sha": root["sha"]})
    again = session.post(
        repo_url(fake_github, "/git/refs"), json={"ref": "refs/heads/reg", "sha": root["sha"]}
    )
    assert again.status_code == 422 and again.json()["message"] == "Reference already exists"

    patch = repo_url(fake_github, "/git/refs/heads/reg")
    assert session.patch(patch, json={"sha": child["sha"]}).status_code == 200
    sideways = session.patch(patch, json={"sha": other["sha"]})
    assert sideways.status_code == 422
    assert sideways.json()["message"] == "Update is not a fast forward"
    assert session.patch(patch, json={"sha": other["sha"], "force": True}).status_code == 200
    ref = session.get(repo_url(fake_github, "/git/ref/heads/reg")).json()
    assert ref["object"]["sha"] == other["sha"]
    listed = session.get(repo_url(fake_github, "/git/trees/reg"), params={"recursive": "1"}).json()
    assert [(e["path"], e["type"]) for e in listed["tree"]] == [("a", "tree"), ("a/b.txt", "blob")]
    assert session.get(repo_url(fake_github, "/git/ref/heads/nope")).status_code == 404


def test_an_empty_repository_answers_409_on_the_git_database(fake_github, session):
    from support.fakegithub.git import Repository

    fake_github.git = Repository()
    answer = session.get(repo_url(fake_github, "/git/trees/main"))
    assert answer.status_code == 409 and answer.json()["message"] == "Git Repository is empty."


def test_asset_downloads_redirect_to_a_host_that_must_not_get_the_token(fake_github, session):
    release = session.post(repo_url(fake_github, "/releases"), json={"tag_name": "iris@v1"}).json()
    upload = release["upload_url"].split("{")[0]
    asset = session.post(
        upload,
        params={"name": "model.onnx"},
        data=b"\x08\x01onnx",
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    url = repo_url(fake_github, f"/releases/assets/{asset['id']}")
    assert session.get(url).json()["name"] == "model.onnx"  # JSON without the Accept header
    found = session.get(url, headers={"Accept": "application/octet-stream"}, allow_redirects=False)
    assert found.status_code == 302
    location = found.headers["Location"]
    assert not location.startswith(fake_github.url)
    plain = requests.get(location, headers={"User-Agent": "t"}, timeout=10)
    assert plain.status_code == 200 and plain.content == b"\x08\x01onnx"
    leaked = requests.get(location, headers={"Authorization": f"Bearer {fake_github.token}"})
    assert leaked.status_code == 400
    assert "sent the GitHub token" in fake_github.take_violations()[0]


def test_pygithub_reads_and_writes_the_same_contents(fake_github):
    """A third-party client, built against real GitHub, agrees on contents and refs."""
    from github import Auth, Github, GithubException

    gh = Github(
        base_url=fake_github.url,
        auth=Auth.Token(fake_github.token),
        retry=None,
        lazy=True,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    repo = gh.get_repo(fake_github.repository)
    main = repo.get_git_ref("heads/main").object.sha
    repo.create_git_ref("refs/heads/registry", main)
    made = repo.create_file("iris/1/.claim", "claim v1", b"mine", branch="registry")
    with pytest.raises(GithubException) as exists:
        repo.create_file("iris/1/.claim", "claim v1", b"theirs", branch="registry")
    assert exists.value.status == 422
    read = repo.get_contents("iris/1/.claim", ref="registry")
    assert read.decoded_content == b"mine" and read.sha == made["content"].sha
    repo.update_file("iris/1/.claim", "again", b"two", read.sha, branch="registry")
    with pytest.raises(GithubException) as stale:
        repo.update_file("iris/1/.claim", "stale", b"three", read.sha, branch="registry")
    assert stale.value.status == 409
    listed = repo.get_contents("iris", ref="registry")
    assert [(c.name, c.type) for c in listed] == [("1", "dir")]
    assert repo.get_git_tree("registry", recursive=True).tree[-1].path == "iris/1/.claim"
    current = repo.get_contents("iris/1/.claim", ref="registry")
    repo.delete_file("iris/1/.claim", "gone", current.sha, branch="registry")
    assert (
        fake_github.git.lookup(
            fake_github.git.commits[fake_github.git.branch("registry")].tree, "iris"
        )
        is None
    )  # an emptied folder vanishes, as in git
