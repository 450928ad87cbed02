"""The fake GitHub's repository: contents, git database and asset downloads answer like GitHub.

What the registry's compare-and-swap relies on is checked here against the fake directly, and
against PyGithub (a client built against real GitHub) where they overlap: 201/200 on
create/update, 422 on creating a file that exists, 409 on a stale blob ``sha`` and on two
writes overlapping on one branch, fast-forward-only ref updates, ``git hash-object`` ids,
base64 content in 60-character lines, and asset downloads that must not carry the token.
"""

from __future__ import annotations

import base64
import subprocess
import threading

import pytest
import requests


@pytest.fixture
def session(fake_github) -> requests.Session:
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {fake_github.token}", "User-Agent": "fake-github-tests"}
    )
    return session


def api(fake_github, tail: str) -> str:
    return f"{fake_github.url}/repos/{fake_github.repository}{tail}"


def put(session, fake_github, path: str, data: bytes, **fields):
    body = {"message": f"write {path}", "content": base64.b64encode(data).decode(), **fields}
    return session.put(api(fake_github, f"/contents/{path}"), json=body)


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

    read = session.get(api(fake_github, "/contents/iris/aliases/production.json"))
    assert read.status_code == 200 and base64.b64decode(read.json()["content"]) == b"v2"
    assert read.json()["sha"] == updated.json()["content"]["sha"]
    missing = put(session, fake_github, "x.json", b"x", branch="no-such-branch")
    assert missing.status_code == 404


def test_contents_come_in_base64_lines_and_unchanged_reads_are_free(fake_github, session):
    data = bytes(range(256)) * 3
    put(session, fake_github, "blob.bin", data)
    first = session.get(api(fake_github, "/contents/blob.bin"))
    lines = first.json()["content"].split("\n")
    assert {len(line) for line in lines[:-2]} == {60} and lines[-1] == ""
    assert base64.b64decode(first.json()["content"]) == data
    used = int(first.headers["x-ratelimit-used"])
    again = session.get(
        api(fake_github, "/contents/blob.bin"), headers={"If-None-Match": first.headers["ETag"]}
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
        resp = session.post(api(fake_github, tail), json=body)
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
        api(fake_github, "/git/refs"), json={"ref": "refs/heads/reg", "sha": root["sha"]}
    )
    assert again.status_code == 422 and again.json()["message"] == "Reference already exists"

    patch = api(fake_github, "/git/refs/heads/reg")
    assert session.patch(patch, json={"sha": child["sha"]}).status_code == 200
    sideways = session.patch(patch, json={"sha": other["sha"]})
    assert sideways.status_code == 422
    assert sideways.json()["message"] == "Update is not a fast forward"
    assert session.patch(patch, json={"sha": other["sha"], "force": True}).status_code == 200
    ref = session.get(api(fake_github, "/git/ref/heads/reg")).json()
    assert ref["object"]["sha"] == other["sha"]
    listed = session.get(api(fake_github, "/git/trees/reg"), params={"recursive": "1"}).json()
    assert [(e["path"], e["type"]) for e in listed["tree"]] == [("a", "tree"), ("a/b.txt", "blob")]
    assert session.get(api(fake_github, "/git/ref/heads/nope")).status_code == 404


def test_an_empty_repository_answers_409_on_the_git_database(fake_github, session):
    from support.fakegithub.git import Repository

    fake_github.git = Repository()
    answer = session.get(api(fake_github, "/git/trees/main"))
    assert answer.status_code == 409 and answer.json()["message"] == "Git Repository is empty."


def test_asset_downloads_redirect_to_a_host_that_must_not_get_the_token(fake_github, session):
    release = session.post(api(fake_github, "/releases"), json={"tag_name": "iris@v1"}).json()
    upload = release["upload_url"].split("{")[0]
    asset = session.post(
        upload,
        params={"name": "model.onnx"},
        data=b"\x08\x01onnx",
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    url = api(fake_github, f"/releases/assets/{asset['id']}")
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
