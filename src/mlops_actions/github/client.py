"""The one GitHub REST client the stages post through.

It calls only the operations of the project's API contract (``tests/support/fakegithub/spec``):
no GraphQL, no ``/user``, no ``GET /repos/{owner}/{repo}``. urllib3 retries connection
errors, and 5xx and timeouts of idempotent methods, with backoff. A create (POST) whose
answer is lost may have landed, so it looks for what it made before sending again: each
write happens once. Rate limits are waited out when GitHub says the wait is short and
reported otherwise; every failure becomes a one-line ``GitHubError`` that says what to do.
The token is masked in the Actions log, never put in a message, and only sent to the API
and uploads hosts. What others wrote (issues, comments) is read back only when it is the
bot's own: an outsider cannot steer the automation.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mlops_actions import __version__
from mlops_actions.config import BOT_LOGIN
from mlops_actions.errors import GitHubError, UsageError
from mlops_actions.github.actions import mask

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_DISPATCH_KEYS = 10
MAX_EVENT_TYPE_CHARS = 100
MAX_DISPATCH_PAYLOAD_BYTES = 64 * 1024
_RETRY_STATUSES = (500, 502, 503, 504)
# retried blindly: repeating them leaves the same state; a POST creates something each time
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_PERMISSIONS_DOCS = "https://docs.github.com/actions/security-guides/automatic-token-authentication#permissions-for-the-github_token"

JSON = dict[str, Any]


class GitHubClient:
    """REST calls on one repository; build it with ``from_env()`` inside a workflow."""

    def __init__(
        self,
        token: str,
        repository: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        bot_login: str = BOT_LOGIN,
    ) -> None:
        if repository.count("/") != 1 or repository.startswith("/") or repository.endswith("/"):
            raise UsageError(f"GITHUB_REPOSITORY must be 'owner/name', got {repository!r}")
        mask(token)
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.bot_login = bot_login
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._token = token
        self._repo_path = f"/repos/{repository}"
        self._origins = {_origin(self.api_url), _uploads_origin(self.api_url)}
        self._files: dict[tuple[str, str], tuple[str, tuple[bytes, str]]] = {}
        # A 5xx or a timeout can come after the write landed: only methods that leave the
        # same state when repeated are retried here; creates go through _create. Connection
        # errors are retried for every method (nothing was sent). Retry-After is ours to
        # honour (rate limits), capped.
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=_IDEMPOTENT_METHODS,
            backoff_factor=backoff,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))
        self._anonymous = requests.Session()  # for the links GitHub hands out: no token
        self._anonymous.mount("https://", HTTPAdapter(max_retries=retry))
        self._anonymous.mount("http://", HTTPAdapter(max_retries=retry))
        self._anonymous.headers["User-Agent"] = f"mlops-actions/{__version__}"
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "User-Agent": f"mlops-actions/{__version__}",
                "X-GitHub-Api-Version": API_VERSION,
            }
        )

    @classmethod
    def from_env(
        cls, *, token_env: str = "GITHUB_TOKEN", repository: str | None = None, **options: Any
    ) -> GitHubClient:
        """Token from ``$token_env``, repository (unless given) from GITHUB_REPOSITORY, API from
        GITHUB_API_URL."""
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise GitHubError(
                f"{token_env} is not set: add `env: {token_env}: ${{{{ secrets.GITHUB_TOKEN }}}}` to the step"
            )
        repository = repository or os.environ.get("GITHUB_REPOSITORY", "").strip()
        if not repository:
            raise GitHubError(
                "GITHUB_REPOSITORY is not set: run inside GitHub Actions or export GITHUB_REPOSITORY=owner/name"
            )
        api_url = os.environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        return cls(token, repository, api_url=api_url, **options)

    def __repr__(self) -> str:
        return f"GitHubClient(repository={self.repository!r}, api_url={self.api_url!r})"

    # -- issue comments ------------------------------------------------------------

    def iter_issue_comments(
        self, number: int, *, permission: str = "issues: read"
    ) -> Iterator[JSON]:
        """Comments of an issue or pull request, oldest first, page by page (stop early freely)."""
        yield from self._paginate(
            f"{self._repo_path}/issues/{int(number)}/comments",
            what=f"list comments of #{number}",
            permission=permission,
        )

    def find_comment(
        self, number: int, marker: str, *, permission: str = "issues: read"
    ) -> JSON | None:
        """The first comment of ours on #``number`` that carries ``marker``; None if none."""
        return next(
            (
                c
                for c in self.iter_issue_comments(number, permission=permission)
                if self.authored(c) and marker in (c.get("body") or "")
            ),
            None,
        )

    def create_issue_comment(
        self,
        number: int,
        body: str,
        *,
        permission: str = "issues: write",
        marker: str | None = None,
    ) -> JSON:
        """Comment once: after a lost answer, our comment carrying ``marker`` is the one that
        landed. ``marker`` must be in ``body``; without one, a hidden write id is added."""
        if marker is None:
            marker = _write_id()
            body = f"{body}\n{marker}"
        return self._create(
            f"{self._repo_path}/issues/{int(number)}/comments",
            find=lambda: self.find_comment(number, marker, permission=permission),
            what=f"comment on #{number}",
            permission=permission,
            body={"body": body},
        )

    def update_issue_comment(
        self, comment_id: int, body: str, *, permission: str = "issues: write"
    ) -> JSON:
        return self._json(
            "PATCH",
            f"{self._repo_path}/issues/comments/{int(comment_id)}",
            what=f"update comment {comment_id}",
            permission=permission,
            body={"body": body},
        )

    def authored(self, item: Mapping[str, Any]) -> bool:
        """Written by this client's identity (``bot_login``), not by whoever else can write."""
        return (item.get("user") or {}).get("login") == self.bot_login

    # -- issues (drift alerts) -----------------------------------------------------

    def create_issue(self, title: str, body: str = "", *, labels: list[str] | None = None) -> JSON:
        """Open an issue once: after a lost answer, ours with these labels and the hidden
        write id added to ``body`` is the one that landed."""
        marker = _write_id()
        payload: JSON = {"title": title, "body": f"{body}\n{marker}"}
        if labels:
            payload["labels"] = labels
        return self._create(
            f"{self._repo_path}/issues",
            find=lambda: self.find_issue(title, labels=labels, marker=marker),
            what=f"create issue {title!r}",
            permission="issues: write",
            body=payload,
        )

    def list_issues(self, *, state: str = "open", labels: list[str] | None = None) -> list[JSON]:
        """Issues only: GitHub's list also returns pull requests (with a ``pull_request`` key)."""
        params = {"state": state}
        if labels:
            params["labels"] = ",".join(labels)
        items = self._paginate(
            f"{self._repo_path}/issues",
            what="list issues",
            permission="issues: read",
            params=params,
        )
        return [item for item in items if "pull_request" not in item]

    def find_issue(
        self,
        title: str,
        *,
        labels: list[str] | None,
        state: str = "open",
        marker: str = "",
    ) -> JSON | None:
        """Our issue with exactly this title, these labels (and ``marker`` in its body); None if none.

        Anyone can open an issue with any title; only the bot's own count, and labels narrow it
        further because GitHub drops the labels of a user without push access.
        """
        return next(
            (
                i
                for i in self.list_issues(state=state, labels=labels)
                if i["title"] == title and self.authored(i) and marker in (i.get("body") or "")
            ),
            None,
        )

    def get_issue(self, number: int) -> JSON:
        return self._json(
            "GET",
            f"{self._repo_path}/issues/{int(number)}",
            what=f"get issue #{number}",
            permission="issues: read",
        )

    def update_issue(self, number: int, **fields: Any) -> JSON:
        """Change title/body/state/state_reason/labels, e.g. ``update_issue(5, state="closed")``."""
        return self._json(
            "PATCH",
            f"{self._repo_path}/issues/{int(number)}",
            what=f"update issue #{number}",
            permission="issues: write",
            body=fields,
        )

    # -- repository_dispatch ---------------------------------------------------------

    def dispatch(
        self,
        event_type: str,
        client_payload: Mapping[str, Any] | None = None,
        *,
        dispatch_id: str | None = None,
    ) -> str:
        """Send a ``repository_dispatch`` event and return its ``dispatch_id``.

        GitHub lists no dispatches, so a lost answer cannot be checked: the event is sent
        again with the same run-scoped ``dispatch_id`` in ``client_payload``, by which a
        receiver can tell the duplicate (the templates' ml-retrain.yml does not: a duplicate
        queues a second retraining behind the first). A caller that retries in a later run
        passes the id it recorded. GitHub's limits are checked here first.
        """
        if not 1 <= len(event_type) <= MAX_EVENT_TYPE_CHARS:
            raise UsageError(
                f"repository_dispatch event_type must be 1..{MAX_EVENT_TYPE_CHARS} characters, got {len(event_type)}"
            )
        run = f"{os.environ.get('GITHUB_RUN_ID', 'local')}.{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
        dispatch_id = dispatch_id or f"{run}.{uuid.uuid4().hex[:12]}"
        client_payload = {**(client_payload or {}), "dispatch_id": dispatch_id}
        if len(client_payload) > MAX_DISPATCH_KEYS:
            raise UsageError(
                f"repository_dispatch client_payload has {len(client_payload)} top-level keys "
                f"with dispatch_id, GitHub allows {MAX_DISPATCH_KEYS}: nest the rest under one key"
            )
        size = len(json.dumps(client_payload).encode())
        if size >= MAX_DISPATCH_PAYLOAD_BYTES:
            raise UsageError(
                f"repository_dispatch client_payload is {size} bytes, GitHub allows under 64 KB: send a link instead"
            )
        self._create(
            f"{self._repo_path}/dispatches",
            find=lambda: None,
            what=f"dispatch {event_type!r}",
            permission="contents: write",
            body={"event_type": event_type, "client_payload": client_payload},
        )
        return dispatch_id

    # -- releases ------------------------------------------------------------------------

    def create_release(
        self,
        tag: str,
        *,
        name: str | None = None,
        body: str = "",
        target_commitish: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
    ) -> JSON:
        """Create once: after a lost answer, the release of ``tag`` is the one that landed."""
        payload: JSON = {
            "tag_name": tag,
            "name": name or tag,
            "body": body,
            "draft": draft,
            "prerelease": prerelease,
        }
        if target_commitish:
            payload["target_commitish"] = target_commitish
        return self._create(
            f"{self._repo_path}/releases",
            find=lambda: self.get_release_by_tag(tag),
            what=f"create release {tag!r}",
            permission="contents: write",
            body=payload,
        )

    def get_release_by_tag(self, tag: str) -> JSON | None:
        return self._found(
            f"{self._repo_path}/releases/tags/{quote(tag, safe='')}",
            what=f"get release {tag!r}",
            permission="contents: read",
        )

    def list_release_assets(self, release_id: int) -> list[JSON]:
        return list(
            self._paginate(
                f"{self._repo_path}/releases/{int(release_id)}/assets",
                what=f"list assets of release {release_id}",
                permission="contents: read",
            )
        )

    def delete_release_asset(self, asset_id: int) -> None:
        """Gone is the goal: a 404 (a retry after a lost answer, say) is success too."""
        try:
            self._request(
                "DELETE",
                f"{self._repo_path}/releases/assets/{int(asset_id)}",
                what=f"delete release asset {asset_id}",
                permission="contents: write",
            )
        except GitHubError as exc:
            if exc.status != 404:
                raise

    def upload_release_asset(
        self,
        release: Mapping[str, Any],
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        label: str | None = None,
    ) -> JSON:
        """Upload to the ``upload_url`` GitHub gave; an asset of that name is replaced, so reruns are safe.

        GitHub answers 422 ``already_exists`` for a taken name (also after a failed upload
        left a ``starter`` asset, or an upload whose answer was lost landed); the old asset
        is deleted and the upload made again.
        """
        url = str(release["upload_url"]).split("{", 1)[0]  # RFC 6570: ".../assets{?name,label}"
        params = {"name": name, **({"label": label} if label else {})}
        what = f"upload release asset {name!r}"

        def upload() -> JSON:
            return self._create(
                url,
                find=lambda: None,  # the re-sent upload meets the landed one as a 422
                what=what,
                permission="contents: write",
                params=params,
                data=data,
                headers={"Content-Type": content_type},
            )

        try:
            return upload()
        except GitHubError as exc:
            if exc.status != 422:
                raise
        for asset in self.list_release_assets(release["id"]):
            if asset["name"] == name:
                self.delete_release_asset(asset["id"])
        return upload()

    def download_release_asset(self, asset_id: int) -> bytes:
        """The asset's bytes: GitHub redirects to a short-lived URL on its storage host, which
        gets no ``Authorization`` header (it refuses one, and must not see the token)."""
        what = f"download release asset {asset_id}"
        resp = self._request(
            "GET",
            f"{self._repo_path}/releases/assets/{int(asset_id)}",
            what=what,
            permission="contents: read",
            headers={"Accept": "application/octet-stream"},
            allow_redirects=False,
        )
        if not resp.is_redirect:
            return resp.content
        return self._fetch_link(resp.headers["Location"], what)

    def _fetch_link(self, location: str, what: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes behind a short-lived download link GitHub handed out, without the token;
        with ``max_bytes``, a body larger than that is refused before it is all read."""
        try:
            with self._anonymous.get(location, timeout=self.timeout, stream=True) as got:
                if got.status_code >= 400:
                    raise GitHubError(
                        f"{what}: GitHub's download link answered {got.status_code}; rerun the job",
                        status=got.status_code,
                    )
                data = bytearray()
                for chunk in got.iter_content(64 * 1024):
                    data += chunk
                    if max_bytes is not None and len(data) > max_bytes:
                        raise UsageError(
                            f"{what}: larger than the {max_bytes:,} bytes accepted; refused"
                        )
                return bytes(data)
        except requests.RequestException as exc:
            raise GitHubError(
                f"{what}: no answer from {_origin(location)} ({type(exc).__name__}); rerun the job"
            ) from None

    # -- repository contents and the git database (the registry branch) -----------------

    def get_file(self, path: str, *, ref: str) -> tuple[bytes, str] | None:
        """A file's bytes and blob sha at ``ref`` (a branch), None if missing.

        Asked conditionally (``If-None-Match``) after the first time: an unchanged file
        costs GitHub a 304, which does not count against the rate limit.
        """
        key = (path, ref)
        cached = self._files.get(key)
        try:
            resp = self._request(
                "GET",
                f"{self._repo_path}/contents/{quote(path)}",
                what=f"read {path} on {ref}",
                permission="contents: read",
                params={"ref": ref},
                headers={"If-None-Match": cached[0]} if cached else None,
            )
        except GitHubError as exc:
            if exc.status == 404:
                self._files.pop(key, None)
                return None
            raise
        if resp.status_code == 304 and cached:
            return cached[1]
        body = resp.json()
        if not isinstance(body, dict) or body.get("type") != "file":
            raise GitHubError(f"read {path} on {ref}: it is not a file in {self.repository}")
        if body.get("encoding") != "base64":
            raise GitHubError(
                f"read {path} on {ref}: over GitHub's 1 MB inline limit; keep that file elsewhere"
            )
        found = (base64.b64decode(body["content"]), str(body["sha"]))
        if resp.headers.get("ETag"):
            self._files[key] = (resp.headers["ETag"], found)
        return found

    def put_file(
        self, path: str, data: bytes, *, branch: str, message: str, sha: str | None = None
    ) -> JSON:
        """One commit on ``branch``. GitHub answers 422 when ``sha`` is None but the file
        exists, 409 when ``sha`` is not the file's current blob (or another write on the
        branch landed meanwhile): a compare-and-swap, raised as ``GitHubError.status``."""
        body: JSON = {
            "message": message,
            "content": base64.b64encode(data).decode(),
            "branch": branch,
        }
        if sha is not None:
            body["sha"] = sha
        return self._json(
            "PUT",
            f"{self._repo_path}/contents/{quote(path)}",
            what=f"write {path} on {branch}",
            permission="contents: write",
            body=body,
        )

    def delete_file(self, path: str, *, branch: str, message: str, sha: str) -> JSON:
        return self._json(
            "DELETE",
            f"{self._repo_path}/contents/{quote(path)}",
            what=f"delete {path} on {branch}",
            permission="contents: write",
            body={"message": message, "sha": sha, "branch": branch},
        )

    def get_tree(self, tree: str) -> JSON | None:
        """Every entry under ``tree`` (a tree sha or a branch name), recursively; None if missing."""
        return self._found(
            f"{self._repo_path}/git/trees/{quote(tree)}",
            what=f"list tree {tree}",
            permission="contents: read",
            params={"recursive": "1"},
        )

    def create_branch(self, name: str, files: Mapping[str, str], *, message: str) -> None:
        """A branch with no history holding ``files`` (path -> text): one tree, one root
        commit, one ref. GitHub answers 422 if the branch exists already (raised)."""
        tree = self._create(  # trees and commits are made again after a lost answer: an
            f"{self._repo_path}/git/trees",  # unused one costs nothing
            find=lambda: None,
            what=f"create the first tree of {name}",
            permission="contents: write",
            body={
                "tree": [
                    {"path": path, "mode": "100644", "type": "blob", "content": text}
                    for path, text in files.items()
                ]
            },
        )
        commit = self._create(
            f"{self._repo_path}/git/commits",
            find=lambda: None,
            what=f"create the first commit of {name}",
            permission="contents: write",
            body={"message": message, "tree": tree["sha"], "parents": []},
        )
        self._create(  # sent again after a lost answer that landed, it meets the ref: 422
            f"{self._repo_path}/git/refs",
            find=lambda: None,
            what=f"create branch {name}",
            permission="contents: write",
            body={"ref": f"refs/heads/{name}", "sha": commit["sha"]},
        )

    # -- verdicts on a commit ---------------------------------------------------------------

    def create_commit_status(
        self,
        sha: str,
        state: str,
        *,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> JSON:
        """``state`` is error, failure, pending or success; GitHub shows ``description`` cut at 140.

        A status is a state, the latest per context wins: sending it again after a lost
        answer sets the same state.
        """
        payload: JSON = {"state": state, "context": context, "description": description[:140]}
        if target_url:
            payload["target_url"] = target_url
        return self._create(
            f"{self._repo_path}/statuses/{sha}",
            find=lambda: None,
            what=f"set commit status {context!r}",
            permission="statuses: write",
            body=payload,
        )

    # -- pull requests, workflow runs and their artifacts (the fork report) ------------------

    def get_pull(self, number: int) -> JSON | None:
        """Pull request #``number``; None if there is none."""
        return self._found(
            f"{self._repo_path}/pulls/{int(number)}",
            what=f"get pull request #{number}",
            permission="pull-requests: read",
        )

    def get_workflow_run(self, run_id: int) -> JSON:
        return self._json(
            "GET",
            f"{self._repo_path}/actions/runs/{int(run_id)}",
            what=f"get workflow run {run_id}",
            permission="actions: read",
        )

    def find_run_artifact(self, run_id: int, name: str) -> JSON | None:
        """The artifact called ``name`` of run ``run_id`` (names are unique in a run); None if none."""
        resp = self._request(
            "GET",
            f"{self._repo_path}/actions/runs/{int(run_id)}/artifacts",
            what=f"list artifacts of run {run_id}",
            permission="actions: read",
            params={"name": name, "per_page": 100},
        )
        found = [a for a in resp.json().get("artifacts") or [] if a.get("name") == name]
        return found[0] if found else None

    def list_run_artifacts(self, run_id: int) -> list[JSON]:
        """Every artifact of run ``run_id`` (the list is an object, so not ``_paginate``)."""
        url: str | None = f"{self.api_url}{self._repo_path}/actions/runs/{int(run_id)}/artifacts"
        query: dict[str, Any] | None = {"per_page": 100}
        found: list[JSON] = []
        while url:
            resp = self._request(
                "GET",
                url,
                what=f"list artifacts of run {run_id}",
                permission="actions: read",
                params=query,
            )
            found += resp.json().get("artifacts") or []
            url, query = resp.links.get("next", {}).get("url"), None
        return found

    def download_artifact(self, artifact_id: int, *, max_bytes: int) -> bytes:
        """The artifact's zip, refused over ``max_bytes``: GitHub redirects to a link on its
        storage host, which gets no ``Authorization`` header (see download_release_asset)."""
        what = f"download artifact {artifact_id}"
        resp = self._request(
            "GET",
            f"{self._repo_path}/actions/artifacts/{int(artifact_id)}/zip",
            what=what,
            permission="actions: read",
            allow_redirects=False,
        )
        if not resp.is_redirect:
            raise GitHubError(f"{what}: GitHub answered {resp.status_code}, not a download link")
        return self._fetch_link(resp.headers["Location"], what, max_bytes=max_bytes)

    # -- deployments -----------------------------------------------------------------

    def create_deployment(
        self,
        ref: str,
        *,
        environment: str,
        description: str = "",
        payload: Mapping[str, Any] | None = None,
        required_contexts: list[str] | None = None,
    ) -> JSON:
        """A deployment of ``ref``; no auto-merge, and no status checks required unless listed.

        Created once: a ``write_id`` in ``payload`` finds the one that landed after a lost
        answer.
        """
        marker = uuid.uuid4().hex
        body: JSON = {
            "ref": ref,
            "environment": environment,
            "description": description,
            "auto_merge": False,
            "required_contexts": list(required_contexts or []),
            "payload": {**(payload or {}), "write_id": marker},
        }
        deployment = self._create(
            f"{self._repo_path}/deployments",
            find=lambda: self._find_deployment(environment, marker),
            what=f"create deployment of {ref!r}",
            permission="deployments: write",
            body=body,
        )
        if "id" not in deployment:  # 202 {message}: GitHub merged the default branch instead
            raise GitHubError(
                f"create deployment of {ref!r}: GitHub answered 202 "
                f"({deployment.get('message', '')}) instead of creating it",
                status=202,
            )
        return deployment

    def _find_deployment(self, environment: str, marker: str) -> JSON | None:
        return next(
            (
                d
                for d in self._paginate(
                    f"{self._repo_path}/deployments",
                    what=f"list deployments to {environment!r}",
                    permission="deployments: read",
                    params={"environment": environment},
                )
                if (d.get("payload") or {}).get("write_id") == marker
            ),
            None,
        )

    def create_deployment_status(
        self,
        deployment_id: int,
        state: str,
        *,
        environment_url: str | None = None,
        log_url: str | None = None,
        description: str = "",
    ) -> JSON:
        """Like a commit status, a state: sending it again after a lost answer sets the same."""
        payload: JSON = {"state": state, "description": description[:140]}
        if environment_url:
            payload["environment_url"] = environment_url
        if log_url:
            payload["log_url"] = log_url
        return self._create(
            f"{self._repo_path}/deployments/{int(deployment_id)}/statuses",
            find=lambda: None,
            what=f"set deployment {deployment_id} to {state!r}",
            permission="deployments: write",
            body=payload,
        )

    # -- transport ---------------------------------------------------------------------------

    def _json(self, method: str, url: str, *, body: JSON | None = None, **kwargs: Any) -> JSON:
        resp = self._request(method, url, json_body=body, **kwargs)
        return resp.json() if resp.content else {}  # 204 No Content

    def _found(self, url: str, **kwargs: Any) -> JSON | None:
        """GET ``url``; None when GitHub answers 404."""
        try:
            return self._json("GET", url, **kwargs)
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def _create(self, url: str, *, find: Callable[[], JSON | None], **kwargs: Any) -> JSON:
        """POST once. A 5xx or no answer can come after the write landed, so before sending
        again, ``find`` looks for what it made (None: nothing to look for, send again)."""
        for attempt in range(self.retries):
            try:
                return self._json("POST", url, **kwargs)
            except _AnswerLost:
                pass
            time.sleep(self.backoff * 2**attempt)
            if (found := find()) is not None:
                return found
        return self._json("POST", url, **kwargs)  # the last try: its failure is the error

    def _paginate(
        self, path: str, *, params: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Iterator[JSON]:
        """Follow ``Link: rel="next"`` verbatim: GitHub rewrites those URLs, so never rebuild them."""
        url: str | None = self.api_url + path
        query: dict[str, Any] | None = {**(params or {}), "per_page": 100}
        while url:
            resp = self._request("GET", url, params=query, **kwargs)
            yield from resp.json()
            url, query = resp.links.get("next", {}).get("url"), None

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        permission: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        if _origin(url) not in self._origins:  # a Link or upload_url naming another host
            raise GitHubError(
                f"{what}: GitHub pointed at {_origin(url)}, which is neither the API nor its "
                f"uploads host; the token is not sent there"
            )
        waited = 0.0
        for attempt in itertools.count():
            try:
                resp = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=allow_redirects,
                )
            except requests.RequestException as exc:
                raise _AnswerLost(
                    self._scrub(
                        f"{what}: no answer from {self.api_url} after {self.retries} retries "
                        f"({type(exc).__name__}); check GITHUB_API_URL and the runner's network, then rerun"
                    )
                ) from None
            wait = _rate_limit_wait(resp)
            if wait is None:
                break
            if waited + wait > self.max_wait or attempt >= self.retries:
                raise GitHubError(
                    self._rate_limit_message(resp, what, wait),
                    status=resp.status_code,
                    rate_limited=True,
                )
            time.sleep(wait)
            waited += wait
        if resp.status_code >= 400:
            error = _AnswerLost if resp.status_code >= 500 else GitHubError
            raise error(
                self._scrub(self._error_message(resp, what, permission)), status=resp.status_code
            )
        return resp

    def _rate_limit_message(self, resp: requests.Response, what: str, wait: float) -> str:
        kind = (
            "secondary"
            if "secondary" in _message(resp).lower() or "retry-after" in resp.headers
            else "primary"
        )
        return (
            f"{what}: GitHub's {kind} rate limit is exhausted for {wait:.0f} s more, longer than "
            f"the {self.max_wait:.0f} s this job waits; rerun later or make fewer calls per run"
        )

    def _error_message(self, resp: requests.Response, what: str, permission: str) -> str:
        status, message = resp.status_code, _message(resp)
        if status == 401:
            return f"{what}: GitHub rejected the token (401 {message}); check the secret passed as the token"
        if status == 403:
            return (
                f"{what}: token lacks {permission} (403 {message}) — add `permissions: {permission}` "
                f"to the job (a fork's pull request only gets a read token; see {_PERMISSIONS_DOCS})"
            )
        if status == 404:
            return (
                f"{what}: not found in {self.repository} (404) — check GITHUB_REPOSITORY and that the "
                f"token can read the repository (GitHub says 404 for what it cannot see)"
            )
        if status == 422:
            return f"{what}: GitHub refused it (422 {message}{_validation_details(resp)}); fix the value named"
        if status >= 500:
            return (
                f"{what}: GitHub answered {status} {message} after {self.retries} retries — "
                f"see https://www.githubstatus.com and rerun the job"
            )
        return f"{what}: GitHub answered {status} {message}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


class _AnswerLost(GitHubError):
    """A 5xx or no answer at all: the request may or may not have taken effect."""


def _write_id() -> str:
    """A hidden marker that finds one write again after its answer was lost."""
    return f"<!-- mlops-actions:write:{uuid.uuid4().hex} -->"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _uploads_origin(api_url: str) -> str:
    """api.github.com uploads to uploads.github.com (likewise api.X.ghe.com); GitHub
    Enterprise Server to /api/uploads on its own host."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("api."):
        return _origin(parts._replace(netloc=parts.netloc.replace("api.", "uploads.", 1)).geturl())
    return _origin(api_url)


def _message(resp: requests.Response) -> str:
    """GitHub's ``message`` from an error body, else the HTTP reason."""
    try:
        body = resp.json()
    except ValueError:
        return resp.reason or ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return " ".join(body["message"].split())
    return resp.reason or ""


def _validation_details(resp: requests.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
    except (ValueError, AttributeError):
        return ""
    parts = []
    for err in errors:
        if isinstance(err, dict):
            parts.append(
                err.get("message")
                or " ".join(str(err[k]) for k in ("resource", "field", "code") if err.get(k))
            )
        else:
            parts.append(str(err))
    return f": {'; '.join(parts)}" if parts else ""


def _rate_limit_wait(resp: requests.Response) -> float | None:
    """Seconds GitHub asks for before the next call, or None when this is not a rate limit.

    GitHub's rules: ``retry-after`` wins; ``x-ratelimit-remaining: 0`` means wait until
    ``x-ratelimit-reset`` (epoch seconds); a secondary limit without either means a minute.
    """
    if resp.status_code not in (403, 429):
        return None
    headers = resp.headers
    if "retry-after" in headers:
        try:
            return max(0.0, float(headers["retry-after"]))
        except ValueError:
            return 60.0
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - time.time())
        except ValueError:
            return 60.0
    if resp.status_code == 429 or "rate limit" in _message(resp).lower():
        return 60.0
    return None
