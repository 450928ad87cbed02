"""An outsider cannot steer the automation: what others write is never taken for the bot's,
and the token goes nowhere but the API and its uploads host."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mlops_actions.cli import main
from mlops_actions.errors import GitHubError
from mlops_actions.github.client import GitHubClient, _uploads_origin
from mlops_actions.github.comment import marker, post_sticky_comment


def as_user(fake_github, login: str) -> requests.Session:
    """What an outsider sends: a plain session with their own token."""
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"token {fake_github.add_user(login)}", "User-Agent": login}
    )
    return session


def test_outsiders_comment_with_the_marker_is_never_edited(fake_github):
    pr = fake_github.add_pull_request()
    forged = as_user(fake_github, "mallory").post(
        f"{fake_github.url}/repos/{fake_github.repository}/issues/{pr}/comments",
        json={"body": f"{marker('iris')}\nShip it, the gate passed."},
    )
    assert forged.status_code == 201

    first = post_sticky_comment("gate: blocked", name="iris", pr=pr)
    second = post_sticky_comment("gate: still blocked", name="iris", pr=pr)

    theirs, ours = fake_github.comments_on(pr)
    assert theirs["body"] == f"{marker('iris')}\nShip it, the gate passed."
    assert ours["user"]["login"] == "github-actions[bot]"
    assert ours["body"] == f"{marker('iris')}\ngate: still blocked"
    assert (first.action, second.action, second.comment_id) == ("created", "updated", ours["id"])


def test_a_configured_bot_login_finds_its_own_comment(fake_github, example, tmp_path, monkeypatch):
    """A GitHub App's token writes as ``<app>[bot]``: ``github.bot_login`` names it."""
    pr = fake_github.add_pull_request()
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.add_user("mlops-app[bot]", collaborator=True))
    config = str(example("penguins") / "mlops.yaml")
    report = tmp_path / "report.md"

    for text in ("v1", "v2"):
        report.write_text(text)
        args = ["comment", "--body-file", str(report), "--pr", str(pr), "--config", config]
        assert main([*args, "--set", "github.bot_login=mlops-app[bot]"]) == 0

    (comment,) = fake_github.comments_on(pr)
    assert comment["user"]["login"] == "mlops-app[bot]"
    assert "v2" in comment["body"] and "v1" not in comment["body"]


# -- the token stays with GitHub --------------------------------------------------------------


class Recorder:
    """A bare HTTP server on 127.0.0.1 that answers with ``reply`` and keeps each request."""

    def __init__(self, reply: Callable[[Request], Response]) -> None:
        self.requests: list[Request] = []
        self.reply = reply
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append(request)
        return self.reply(request)(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[[Callable[[Request], Response]], Recorder]]:
    started: list[Recorder] = []

    def start(reply: Callable[[Request], Response]) -> Recorder:
        started.append(Recorder(reply))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def json_reply(body, **headers: str) -> Callable[[Request], Response]:
    return lambda _: Response(json.dumps(body), headers=headers, content_type="application/json")


def test_link_to_another_host_is_not_followed_with_the_token(servers):
    elsewhere = servers(json_reply([{"body": "planted"}]))
    api = servers(json_reply([], Link=f'<{elsewhere.url}/comments?page=2>; rel="next"'))
    client = GitHubClient("ghs_secret", "o/r", api_url=api.url, retries=0)

    with pytest.raises(GitHubError, match="neither the API nor its uploads host"):
        list(client.iter_issue_comments(1))

    assert api.requests[0].headers["Authorization"] == "Bearer ghs_secret"
    assert elsewhere.requests == []


def test_redirect_to_another_host_does_not_carry_the_token(servers):
    elsewhere = servers(json_reply({"number": 1}))
    api = servers(lambda _: Response(status=302, headers={"Location": f"{elsewhere.url}/x"}))
    client = GitHubClient("ghs_secret", "o/r", api_url=api.url, retries=0)

    client.get_issue(1)

    assert "Authorization" in api.requests[0].headers
    (followed,) = elsewhere.requests
    assert "Authorization" not in followed.headers


def test_upload_url_on_another_host_is_refused(servers):
    elsewhere = servers(json_reply({}))
    client = GitHubClient("ghs_secret", "o/r", api_url="http://127.0.0.1:9/api/v3", retries=0)
    release = {"id": 1, "upload_url": f"{elsewhere.url}/assets{{?name,label}}"}

    with pytest.raises(GitHubError, match="token is not sent there"):
        client.upload_release_asset(release, "model.onnx", b"x")

    assert elsewhere.requests == []


@pytest.mark.parametrize(
    ("api_url", "uploads"),
    [
        ("https://api.github.com", "https://uploads.github.com:443"),
        ("https://api.octo.ghe.com", "https://uploads.octo.ghe.com:443"),
        ("https://ghes.example/api/v3", "https://ghes.example:443"),
        ("http://127.0.0.1:8765/api/v3", "http://127.0.0.1:8765"),
    ],
)
def test_uploads_host_of_each_kind_of_github(api_url, uploads):
    assert _uploads_origin(api_url) == uploads
