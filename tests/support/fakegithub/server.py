"""A fake GitHub REST API: real HTTP on 127.0.0.1, state in memory, checked against GitHub's spec.

Every request is validated against GitHub's official OpenAPI description of the operations
the project uses (``spec/openapi-subset.json``); one that breaks it is answered as GitHub
would (400/404/422) and recorded in ``violations``, which the pytest fixture turns into a
failed test. The fake's own success answers are validated too, so its shapes stay honest.

Like GitHub Enterprise Server, the API lives under ``/api/v3`` and uploads under
``/api/uploads``; ``Link`` URLs point at ``/repositories/{id}/...`` the way api.github.com's
do, so only a client that follows them verbatim pages correctly.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from support.fakegithub import git, scopes

SPEC_PATH = Path(__file__).parent / "spec" / "openapi-subset.json"
API_PREFIX = "/api/v3"
UPLOADS_PREFIX = "/api/uploads"
DOWNLOADS_PREFIX = "/_downloads"  # where an asset download redirects: "another host"
MAX_CONTENT_BYTES = 1 << 20  # the contents API inlines files up to 1 MB
BOT = "github-actions[bot]"  # who a GITHUB_TOKEN commits as
DOCS_URL = "https://docs.github.com/rest"
MAX_BODY_CHARS = 65536
RATE_LIMIT = 5000
HANG_CEILING_S = 300.0  # a hung request ends by itself even if nobody stops the fake
API_VERSIONS = {"2022-11-28", "2026-03-10"}
BOT_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN writes as
_BOT_ID = 41898282  # github-actions[bot]'s user id on github.com
_UPLOAD_PATH = "/repos/{owner}/{repo}/releases/{release_id}/assets"
# openapi-core rejects null in a nullable enum; GitHub sends and accepts it (README quirk 1)
_NULLABLE_ENUMS = ("state_reason", "conclusion")


@functools.cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@functools.cache
def _openapi() -> Any:
    """The spec served from this fake's paths; built once per process (it takes ~0.3 s)."""
    from openapi_core import OpenAPI

    spec = copy.deepcopy(_spec())
    spec["servers"] = [{"url": API_PREFIX}]
    upload = spec["paths"][_UPLOAD_PATH]["post"]
    upload["servers"] = [{"url": UPLOADS_PREFIX}]
    # GitHub takes an asset with its own Content-Type, not only octet-stream (README quirk 3)
    content = upload["requestBody"]["content"]
    content["*/*"] = content.pop("application/octet-stream")
    # a directory's listing is an array, which openapi-core cannot match by the "type"
    # discriminator of the file shapes: check it is one of the shapes, without it
    listing = spec["paths"]["/repos/{owner}/{repo}/contents/{path}"]["get"]["responses"]["200"]
    shapes = listing["content"]["application/json"]["schema"]
    shapes.pop("discriminator")
    shapes["anyOf"] = shapes.pop("oneOf")
    # a run in progress has conclusion null, required and a nullable enum: the null is stripped
    # before validating (quirk 1), so the key may be absent then
    spec["components"]["schemas"]["workflow-run"]["required"].remove("conclusion")
    return OpenAPI.from_dict(spec)


@functools.cache
def _path_finder() -> Any:
    from openapi_core.templating.paths.finders import APICallPathFinder

    return APICallPathFinder(_openapi().spec)


@functools.cache
def _multi_segment_paths() -> list[re.Pattern[str]]:
    """Paths whose parameter spans slashes (``x-multi-segment``: a file path, ``heads/main``)."""
    found = []
    for template, item in _spec()["paths"].items():
        spanning = {
            p["name"]
            for op in item.values()
            if isinstance(op, dict)
            for p in map(_resolved, op.get("parameters", []))
            if p.get("x-multi-segment")
        }
        if spanning:
            pattern = re.sub(
                r"\{(\w+)\}",
                lambda m, spanning=spanning: (
                    f"(?P<{m.group(1)}>.+)" if m.group(1) in spanning else "[^/]+"
                ),
                template,
            )
            found.append(re.compile(re.escape(API_PREFIX) + pattern))
    return found


def _resolved(parameter: dict[str, Any]) -> dict[str, Any]:
    ref = parameter.get("$ref")
    return _spec()["components"]["parameters"][ref.rsplit("/", 1)[-1]] if ref else parameter


def _one_segment(path: str) -> str:
    """openapi-core matches a parameter within one segment; GitHub lets these span several, so
    their slashes are escaped for matching (and unescaped in the parameters handlers see)."""
    for pattern in _multi_segment_paths():
        match = pattern.fullmatch(path)
        if match:
            start, end = match.span(next(iter(match.groupdict())))
            return path[:start] + path[start:end].replace("/", "%2F") + path[end:]
    return path


def _example(name: str) -> dict[str, Any]:
    value = _spec()["components"]["examples"][name]["value"]
    return copy.deepcopy(value[0] if isinstance(value, list) else value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _SpecRequest:
    """The request as openapi-core reads it (its ``Request`` protocol)."""

    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str
    body: bytes | None


@dataclass
class _SpecResponse:
    data: bytes
    status_code: int
    content_type: str
    headers: Headers


@dataclass
class Call:
    """One request after validation, as a handler sees it."""

    operation_id: str
    params: dict[str, Any]  # path parameters, typed by the spec
    query: ImmutableMultiDict
    body: Any  # parsed JSON, or raw bytes for uploads
    request: Request
    login: str  # whose token sent it: the author of what it creates

    @property
    def host(self) -> str:
        return self.request.host_url.rstrip("/")


@dataclass
class Faults:
    """Switches for failures GitHub produces; each counts down or expires by itself."""

    server_errors: int = 0  # the next N requests answer server_error_status
    server_error_status: int = 502
    hang: int = 0  # the next N requests get no answer until the fake stops: the client times out
    primary_until: float = 0.0  # until this epoch second the primary limit is exhausted
    primary_status: int = 403
    secondary: int = 0  # the next N requests hit a secondary rate limit
    secondary_status: int = 403
    secondary_retry_after: int | None = None
    forbidden: dict[str, str] = field(default_factory=dict)  # operationId -> 403 message
    lost: int = 0  # the next N writes are applied, then answered lost_status (None: no answer)
    lost_status: int | None = 502
    lost_operations: frozenset[str] = frozenset()  # only these operationIds; empty: any write


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    operation_id: str | None
    status: int


Reply = tuple[int, Any, dict[str, str]]


class FakeGitHub:
    """One repository's worth of GitHub, served on 127.0.0.1 until ``stop()``."""

    def __init__(
        self,
        *,
        repository: str = "octo-org/models",
        token: str = "ghs_fake0token",
        login: str = BOT_LOGIN,
    ) -> None:
        self.owner, self.repo = repository.split("/")
        self.repository = repository
        self.token = token
        self.login = login
        self.logins = {token: login}  # token -> the user it acts as
        self.collaborators = {login}  # users with push access: only they may set labels
        # a job's token -> its scopes; any other token has every scope (like a PAT)
        self.tokens: dict[str, dict[str, str]] = {}
        self.repo_id = 1000
        self.issues: dict[int, dict[str, Any]] = {}  # pull requests too, as GitHub lists them
        self.pulls: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.releases: dict[int, dict[str, Any]] = {}
        self.assets: dict[int, dict[str, Any]] = {}
        self.asset_data: dict[int, bytes] = {}
        self.dispatches: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.deployments: dict[int, dict[str, Any]] = {}
        self.deployment_statuses: list[dict[str, Any]] = []
        self.workflow_runs: dict[int, dict[str, Any]] = {}
        self.artifacts: dict[int, dict[str, Any]] = {}  # of every run, by id
        self.artifact_data: dict[int, bytes] = {}  # the zip GitHub serves for it
        self.exchanges: list[Exchange] = []
        self.violations: list[str] = []
        self.faults = Faults()
        self._asset_release: dict[int, int] = {}
        self.git = git.Repository.with_readme()
        self.write_latency = 0.02
        """Seconds GitHub takes to turn a contents write into a commit; other requests run
        meanwhile, so two writes on one branch overlap and the later one gets 409."""
        self._downloads: dict[str, tuple[bytes, float]] = {}  # token -> (content, expiry)
        self._ids = itertools.count(5001)
        self._numbers = itertools.count(1)
        self._used = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()  # releases hung requests
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.uploads_url = ""
        self._handlers: dict[str, Callable[[Call], Reply]] = {
            "issues/list-comments": self._list_comments,
            "issues/create-comment": self._create_comment,
            "issues/get-comment": self._get_comment,
            "issues/update-comment": self._update_comment,
            "issues/delete-comment": self._delete_comment,
            "issues/create": self._create_issue,
            "issues/list-for-repo": self._list_issues,
            "issues/get": self._get_issue,
            "issues/update": self._update_issue,
            "repos/create-dispatch-event": self._dispatch,
            "repos/create-release": self._create_release,
            "repos/get-release-by-tag": self._get_release_by_tag,
            "repos/list-releases": self._list_releases,
            "repos/upload-release-asset": self._upload_asset,
            "repos/list-release-assets": self._list_assets,
            "repos/delete-release-asset": self._delete_asset,
            "repos/create-commit-status": self._create_status,
            "checks/create": self._create_check_run,
            "checks/update": self._update_check_run,
            "repos/create-deployment": self._create_deployment,
            "repos/create-deployment-status": self._create_deployment_status,
            "repos/list-deployments": self._list_deployments,
            "pulls/get": self._get_pull,
            "repos/list-pull-requests-associated-with-commit": self._list_pulls_for_commit,
            "rate-limit/get": self._rate_limit,
            "actions/get-workflow-run": self._get_workflow_run,
            "actions/list-workflow-run-artifacts": self._list_run_artifacts,
            "actions/download-artifact": self._download_artifact,
            **self._repository_handlers(),
        }

    # -- lifecycle --------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeGitHub:
        _openapi()
        self._server = make_server(
            "127.0.0.1", port, self, threaded=True, request_handler=_QuietHandler
        )
        host = f"http://127.0.0.1:{self._server.server_port}"
        self.url, self.uploads_url = host + API_PREFIX, host + UPLOADS_PREFIX
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-github",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take_violations(self) -> list[str]:
        """Violations so far, cleared: for tests that break the contract on purpose."""
        with self._lock:
            found, self.violations = self.violations, []
        return found

    # -- fault switches -----------------------------------------------------------------

    def fail_next(self, count: int, status: int = 502) -> None:
        self.faults.server_errors, self.faults.server_error_status = count, status

    def hang_next(self, count: int) -> None:
        """The next ``count`` requests hang until ``stop()``: a timeout that no load can turn
        into an answer, unlike a fixed delay racing the client's timeout."""
        self.faults.hang = count

    def exhaust_rate_limit(self, seconds: float, status: int = 403) -> None:
        """Primary limit: every request is refused until ``seconds`` from now."""
        self.faults.primary_until, self.faults.primary_status = time.time() + seconds, status

    def secondary_limit(
        self, count: int = 1, *, status: int = 403, retry_after: int | None = None
    ) -> None:
        self.faults.secondary, self.faults.secondary_status = count, status
        self.faults.secondary_retry_after = retry_after

    def lose_answer(self, *operation_ids: str, count: int = 1, status: int | None = 502) -> None:
        """Apply the next ``count`` writes (of these operations), then answer ``status``, or
        nothing until ``stop()`` with ``status=None``: the client cannot know the write landed."""
        self.faults.lost, self.faults.lost_status = count, status
        self.faults.lost_operations = frozenset(operation_ids)

    def forbid(
        self, *operation_ids: str, message: str = "Resource not accessible by integration"
    ) -> None:
        """Answer 403 to these operations, as GitHub does for a read-only token (fork PRs)."""
        self.faults.forbidden.update(dict.fromkeys(operation_ids, message))

    # -- tokens ---------------------------------------------------------------------------

    def issue_token(self, permissions: dict[str, str]) -> str:
        """A job's GITHUB_TOKEN: exactly these scopes (``{"issues": "write", ...}``)."""
        unknown = sorted(set(permissions) - set(scopes.SCOPES))
        if unknown or not set(permissions.values()) <= set(scopes.LEVELS):
            raise ValueError(f"not a permissions block GitHub accepts: {permissions}")
        token = f"ghs_{secrets.token_hex(18)}"
        with self._lock:
            self.tokens[token], self.logins[token] = dict(permissions), self.login
        return token

    def revoke_token(self, token: str) -> None:
        """The job ended: GitHub expires its token, later calls get 401."""
        with self._lock:
            self.tokens.pop(token, None)
            self.logins.pop(token, None)

    # -- seeding state (what exists before the code under test runs) ---------------------

    def add_user(self, login: str, *, collaborator: bool = False) -> str:
        """A token acting as ``login`` (an outsider unless ``collaborator``), for writes by others."""
        token = f"ghp_{hashlib.sha256(login.encode()).hexdigest()[:36]}"
        self.logins[token] = login
        if collaborator:
            self.collaborators.add(login)
        return token

    def add_pull_request(
        self,
        *,
        head_sha: str = "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        title: str = "Train a better model",
        fork: bool = False,
    ) -> int:
        with self._lock:
            number = next(self._numbers)
            pull = _example("pull-request")
            pull.update(
                id=next(self._ids),
                number=number,
                title=title,
                state="open",
                locked=False,
                active_lock_reason=None,
                merged=False,
                merged_at=None,
                closed_at=None,
                requested_teams=[],
                requested_reviewers=[],  # the spec's example teams lack required keys
                url=self._api(f"/pulls/{number}"),
                issue_url=self._api(f"/issues/{number}"),
                comments_url=self._api(f"/issues/{number}/comments"),
                html_url=f"https://github.com/{self.repository}/pull/{number}",
            )
            pull["head"]["sha"] = head_sha
            head_repo = pull["head"]["repo"]
            head_repo["full_name"] = f"fork-owner/{self.repo}" if fork else self.repository
            head_repo["fork"] = fork
            pull["base"]["repo"]["full_name"] = self.repository
            self.pulls[number] = pull
            issue = self._new_issue(number, title, "", self.login)
            issue["html_url"] = pull["html_url"]
            issue["pull_request"] = {
                "url": pull["url"],
                "html_url": pull["html_url"],
                "diff_url": pull["html_url"] + ".diff",
                "patch_url": pull["html_url"] + ".patch",
                "merged_at": None,
            }
            self.issues[number] = issue
            return number

    def add_workflow_run(self, run_id: int, **fields: Any) -> dict[str, Any]:
        """A workflow run as ``actions/get-workflow-run`` shows it (GitHub's example, with
        ``fields`` such as event, head_sha, head_branch, status, conclusion, path, name);
        calling it again for the same id updates the run (it moved on, it completed)."""
        with self._lock:
            run = self.workflow_runs.get(run_id)
            if run is None:
                run = _example("workflow-run")
                base = self._api(f"/actions/runs/{run_id}")
                run.update(
                    id=run_id,
                    url=base,
                    html_url=f"https://github.com/{self.repository}/actions/runs/{run_id}",
                    jobs_url=f"{base}/jobs",
                    logs_url=f"{base}/logs",
                    artifacts_url=f"{base}/artifacts",
                    cancel_url=f"{base}/cancel",
                    rerun_url=f"{base}/rerun",
                    previous_attempt_url=None,
                    pull_requests=[],
                    referenced_workflows=[],
                )
                for key in ("repository", "head_repository"):
                    run[key].update(full_name=self.repository, name=self.repo)
                    run[key]["owner"]["login"] = self.owner
                self.workflow_runs[run_id] = run
            run.update(fields, updated_at=_now())
            return run

    def add_artifact(self, run_id: int, artifact_id: int, name: str, zipped: bytes) -> None:
        """An artifact of run ``run_id``: ``zipped`` is what its download serves."""
        with self._lock:
            run = self.workflow_runs[run_id]
            base = self._api(f"/actions/artifacts/{artifact_id}")
            self.artifacts[artifact_id] = {
                "id": artifact_id,
                "node_id": f"AR_fake{artifact_id}",
                "name": name,
                "size_in_bytes": len(zipped),
                "url": base,
                "archive_download_url": f"{base}/zip",
                "expired": False,
                "created_at": _now(),
                "expires_at": "2099-01-01T00:00:00Z",
                "updated_at": _now(),
                "digest": "sha256:" + hashlib.sha256(zipped).hexdigest(),
                "workflow_run": {
                    "id": run_id,
                    "repository_id": self.repo_id,
                    "head_repository_id": self.repo_id,
                    "head_branch": run["head_branch"],
                    "head_sha": run["head_sha"],
                },
            }
            self.artifact_data[artifact_id] = zipped

    def add_comment(self, number: int, body: str, *, login: str | None = None) -> dict[str, Any]:
        """A comment by ``login`` (default: the main token's user, as if an earlier run wrote it)."""
        with self._lock:
            comment = self._new_comment(number, body, login or self.login)
            self.comments[comment["id"]] = comment
            return comment

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        url = self._api(f"/issues/{number}")
        return [c for c in self.comments.values() if c["issue_url"] == url]

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path.startswith(DOWNLOADS_PREFIX):
            return self._download(request)(environ, start_response)
        if self._take("hang"):
            self._stopping.wait(HANG_CEILING_S)
        with self._lock:
            operation_id, status, body, headers = self._handle(request)
            self._used += status != 304  # a conditional request answered 304 is free
            lost = status < 400 and request.method != "GET" and self._loses(operation_id)
            silent = lost and self.faults.lost_status is None
            if lost:  # applied above; the answer is lost
                status, body, headers = _error(self.faults.lost_status or 504, "Server Error")
            self.exchanges.append(
                Exchange(request.method, request.full_path.rstrip("?"), operation_id, status)
            )
        if silent:
            self._stopping.wait(HANG_CEILING_S)
        response = Response(
            b"" if body is None else json.dumps(body).encode(),
            status=status,
            content_type=None if body is None else "application/json; charset=utf-8",
        )
        response.headers.update(headers)
        response.headers.update(self._rate_headers(status))
        if operation_id is not None and status < 400:
            self._check_response(request, response)
        return response(environ, start_response)

    def _handle(self, request: Request) -> tuple[str | None, int, Any, dict[str, str]]:
        if not request.headers.get("User-Agent"):
            self._violate(request, "no User-Agent header (GitHub refuses such requests)")
            return None, *_error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            )
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            self._violate(request, f"unknown X-GitHub-Api-Version {version!r}")
            return None, *_error(400, f"API version {version} is not supported.")
        if self._take("server_errors"):
            return None, *_error(self.faults.server_error_status, "Server Error")
        if time.time() < self.faults.primary_until:
            return None, *_error(
                self.faults.primary_status, "API rate limit exceeded for installation ID 1000."
            )
        if self._take("secondary"):
            status, body, headers = _error(
                self.faults.secondary_status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            if self.faults.secondary_retry_after is not None:
                headers["retry-after"] = str(self.faults.secondary_retry_after)
            return None, status, body, headers
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or token not in self.logins:
            return None, *_error(401, "Bad credentials")

        path = _one_segment(self._canonical_path(request.path))
        try:
            found = _path_finder().find(request.method.lower(), request.host_url.rstrip("/") + path)
        except Exception:  # openapi-core's PathNotFound / OperationNotFound / ServerNotFound
            self._violate(request, "not an operation of the contract (spec/openapi-subset.json)")
            return None, *_error(404, "Not Found")
        operation_id = str(found.operation["operationId"])

        body: Any = request.get_data()
        # a release asset is raw bytes whatever its Content-Type (metrics.json goes up as JSON)
        if (
            request.mimetype == "application/json"
            and body
            and operation_id != "repos/upload-release-asset"
        ):
            try:
                body = json.loads(body)
            except ValueError:
                self._violate(request, "body is not valid JSON")
                return operation_id, *_error(400, "Problems parsing JSON")
            if not isinstance(body, dict):
                self._violate(request, "body is not a JSON object")
                return operation_id, *_error(400, "Body should be a JSON object")
        result = _openapi().unmarshal_request(self._spec_request(request, path, body))
        if result.errors:
            details = "; ".join(_describe(e) for e in result.errors)
            self._violate(request, details)
            return operation_id, *_error(422, f"Invalid request.\n\n{details}")

        params = {
            k: unquote(v) if isinstance(v, str) else v for k, v in result.parameters.path.items()
        }
        if (params.get("owner"), params.get("repo")) != (self.owner, self.repo):
            return operation_id, *_error(404, "Not Found")
        granted = self.tokens.get(token)
        try:
            allowed = granted is None or scopes.allows(
                granted, operation_id, request.method, on_pull=self._on_pull(params)
            )
        except KeyError as error:
            self._violate(request, str(error.args[0]))
            allowed = False
        if not allowed:
            return operation_id, *_error(403, scopes.FORBIDDEN)
        if operation_id in self.faults.forbidden:
            return operation_id, *_error(403, self.faults.forbidden[operation_id])
        handler = self._handlers.get(operation_id)
        if handler is None:
            self._violate(
                request, f"{operation_id} is in the contract but this fake does not serve it"
            )
            return operation_id, *_error(404, "Not Found")
        call = Call(operation_id, params, request.args, body, request, self.logins[token])
        return operation_id, *handler(call)

    def _on_pull(self, params: dict[str, Any]) -> bool:
        """Whether an issue call is about a pull request (``pull-requests`` scope also opens it)."""
        number = params.get("issue_number")
        if "comment_id" in params and params["comment_id"] in self.comments:
            number = int(self.comments[params["comment_id"]]["issue_url"].rsplit("/", 1)[1])
        return number in self.pulls

    def _canonical_path(self, path: str) -> str:
        """``/repositories/{id}/...`` (what GitHub's Link headers use) -> ``/repos/{owner}/{repo}/...``."""
        alias = f"{API_PREFIX}/repositories/{self.repo_id}/"
        if path.startswith(alias):
            return f"{API_PREFIX}/repos/{self.repository}/" + path[len(alias) :]
        return path

    def _spec_request(self, request: Request, path: str, body: Any) -> _SpecRequest:
        # GitHub ignores empty query values (``labels=``); openapi-core rejects them (quirk 2)
        query = ImmutableMultiDict([(k, v) for k, v in request.args.items(multi=True) if v != ""])
        from openapi_core.datatypes import RequestParameters

        if isinstance(body, dict):
            body = json.dumps(_without_null_enums(body)).encode()
        return _SpecRequest(
            host_url=request.host_url,
            path=path,
            method=request.method.lower(),
            parameters=RequestParameters(
                query=query, header=Headers(request.headers), cookie=request.cookies
            ),
            content_type=request.content_type or "application/octet-stream",
            body=body or None,
        )

    def _check_response(self, request: Request, response: Response) -> None:
        """Validate the fake's own success answer against the spec: a mismatch is a fake bug."""
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        data = response.get_data()
        if data:
            data = json.dumps(_without_null_enums(json.loads(data))).encode()
        spec_response = _SpecResponse(
            data, response.status_code, response.mimetype or "", Headers(response.headers)
        )
        path = _one_segment(self._canonical_path(request.path))
        result = _openapi().unmarshal_response(
            self._spec_request(request, path, None), spec_response
        )
        errors = [e for e in result.errors if not isinstance(e, ResponseNotFound)]
        if errors:
            self._violate(
                request, "the FAKE answered off-spec: " + "; ".join(_describe(e) for e in errors)
            )

    def _violate(self, request: Request, what: str) -> None:
        with self._lock:
            self.violations.append(f"{request.method} {request.full_path.rstrip('?')}: {what}")

    def _loses(self, operation_id: str | None) -> bool:
        wanted = self.faults.lost_operations
        return (not wanted or operation_id in wanted) and self._take("lost")

    def _take(self, counter: str) -> bool:
        with self._lock:
            left = getattr(self.faults, counter)
            if left > 0:
                setattr(self.faults, counter, left - 1)
                return True
            return False

    def _rate_headers(self, status: int) -> dict[str, str]:
        exhausted = time.time() < self.faults.primary_until
        window_end = int(time.time()) // 3600 * 3600 + 3600
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": "0" if exhausted else str(max(0, RATE_LIMIT - self._used)),
            "x-ratelimit-used": str(RATE_LIMIT if exhausted else self._used),
            "x-ratelimit-reset": str(
                math.ceil(self.faults.primary_until) if exhausted else window_end
            ),
            "x-ratelimit-resource": "core",
        }

    # -- helpers for handlers -------------------------------------------------------------

    def _api(self, tail: str) -> str:
        host = self.url.split(API_PREFIX)[0] if self.url else "https://api.github.com"
        return f"{host}{API_PREFIX}/repos/{self.repository}{tail}"

    def _page(self, call: Call, items: list[dict[str, Any]]) -> Reply:
        """GitHub's pagination: per_page default 30 capped at 100, absolute Links on /repositories/{id}."""
        per_page = max(1, min(int(call.query.get("per_page") or 30), 100))
        page = max(1, int(call.query.get("page") or 1))
        last = max(1, math.ceil(len(items) / per_page))
        tail = self._canonical_path(call.request.path).split(f"/repos/{self.repository}", 1)[-1]
        base = f"{call.host}{API_PREFIX}/repositories/{self.repo_id}{tail}"
        kept = [(k, v) for k, v in call.query.items(multi=True) if k not in ("page", "per_page")]

        def link(number: int, rel: str) -> str:
            return f'<{base}?{urlencode([*kept, ("per_page", per_page), ("page", number)])}>; rel="{rel}"'

        links = []
        if page > 1:
            links += [link(page - 1, "prev")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first")]
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * per_page : page * per_page], headers

    def _new_issue(self, number: int, title: str, body: str, login: str) -> dict[str, Any]:
        issue = _example("issue")
        issue.update(
            id=next(self._ids),
            number=number,
            title=title,
            body=body,
            state="open",
            state_reason=None,
            locked=False,
            active_lock_reason=None,
            comments=0,
            user=_user(login),
            author_association="OWNER" if login in self.collaborators else "NONE",
            labels=[],
            assignee=None,
            assignees=[],
            milestone=None,
            closed_at=None,
            closed_by=None,
            created_at=_now(),
            updated_at=_now(),
            url=self._api(f"/issues/{number}"),
            comments_url=self._api(f"/issues/{number}/comments"),
            html_url=f"https://github.com/{self.repository}/issues/{number}",
        )
        issue.pop("pull_request", None)
        return issue

    def _new_comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        comment = _example("issue-comment")
        comment_id = next(self._ids)
        comment.update(
            id=comment_id,
            body=body,
            user=_user(login),
            author_association="OWNER" if login in self.collaborators else "NONE",
            created_at=_now(),
            updated_at=_now(),
            url=self._api(f"/issues/comments/{comment_id}"),
            issue_url=self._api(f"/issues/{number}"),
            html_url=f"{self.issues[number]['html_url']}#issuecomment-{comment_id}",
        )
        self.issues[number]["comments"] += 1
        return comment

    # -- handlers: one per operationId -------------------------------------------------------

    def _list_comments(self, call: Call) -> Reply:
        if call.params["issue_number"] not in self.issues:
            return _error(404, "Not Found")
        return self._page(call, self.comments_on(call.params["issue_number"]))

    def _create_comment(self, call: Call) -> Reply:
        number = call.params["issue_number"]
        if number not in self.issues:
            return _error(404, "Not Found")
        if len(call.body["body"]) > MAX_BODY_CHARS:
            return _body_too_long("IssueComment")
        comment = self._new_comment(number, call.body["body"], call.login)
        self.comments[comment["id"]] = comment
        return 201, comment, {"Location": comment["url"]}

    def _get_comment(self, call: Call) -> Reply:
        comment = self.comments.get(call.params["comment_id"])
        return (200, comment, {}) if comment else _error(404, "Not Found")

    def _update_comment(self, call: Call) -> Reply:
        comment = self.comments.get(call.params["comment_id"])
        if comment is None:
            return _error(404, "Not Found")
        if len(call.body["body"]) > MAX_BODY_CHARS:
            return _body_too_long("IssueComment")
        comment.update(body=call.body["body"], updated_at=_now())
        return 200, comment, {}

    def _delete_comment(self, call: Call) -> Reply:
        comment = self.comments.pop(call.params["comment_id"], None)
        return (204, None, {}) if comment else _error(404, "Not Found")

    def _create_issue(self, call: Call) -> Reply:
        body = call.body.get("body") or ""
        if len(body) > MAX_BODY_CHARS:
            return _body_too_long("Issue")
        number = next(self._numbers)
        issue = self._new_issue(number, call.body["title"], body, call.login)
        if call.login in self.collaborators:  # GitHub silently drops an outsider's labels
            issue["labels"] = [_label(name) for name in call.body.get("labels") or []]
        self.issues[number] = issue
        return 201, issue, {"Location": issue["url"]}

    def _list_issues(self, call: Call) -> Reply:
        state = call.query.get("state", "open")
        wanted = {name for name in call.query.get("labels", "").split(",") if name}
        items = [
            issue
            for number, issue in sorted(self.issues.items(), reverse=True)  # newest first
            if state in ("all", issue["state"])
            and wanted <= {label["name"] for label in issue["labels"]}
        ]
        return self._page(call, items)

    def _get_issue(self, call: Call) -> Reply:
        issue = self.issues.get(call.params["issue_number"])
        return (200, issue, {}) if issue else _error(404, "Not Found")

    def _update_issue(self, call: Call) -> Reply:
        issue = self.issues.get(call.params["issue_number"])
        if issue is None:
            return _error(404, "Not Found")
        fields = call.body if isinstance(call.body, dict) else {}
        for key in ("title", "body", "state_reason"):
            if key in fields:
                issue[key] = fields[key]
        if "labels" in fields:
            issue["labels"] = [
                _label(x if isinstance(x, str) else x["name"]) for x in fields["labels"]
            ]
        if fields.get("state") in ("open", "closed") and fields["state"] != issue["state"]:
            issue["state"] = fields["state"]
            issue["closed_at"] = _now() if fields["state"] == "closed" else None
            if fields["state"] == "closed" and "state_reason" not in fields:
                issue["state_reason"] = "completed"
        issue["updated_at"] = _now()
        return 200, issue, {}

    def _dispatch(self, call: Call) -> Reply:
        self.dispatches.append(call.body)
        return 204, None, {}

    def _release_view(self, release: dict[str, Any]) -> dict[str, Any]:
        assets = [
            a for a_id, a in self.assets.items() if self._asset_release[a_id] == release["id"]
        ]
        return {**release, "assets": assets}

    def _create_release(self, call: Call) -> Reply:
        tag = call.body["tag_name"]
        if any(r["tag_name"] == tag for r in self.releases.values()):
            return _validation_failed("Release", "tag_name", "already_exists")
        release_id = next(self._ids)
        release = _example("release")
        release.update(
            id=release_id,
            tag_name=tag,
            name=call.body.get("name") or tag,
            body=call.body.get("body"),
            draft=bool(call.body.get("draft")),
            prerelease=bool(call.body.get("prerelease")),
            target_commitish=call.body.get("target_commitish") or "main",
            created_at=_now(),
            published_at=_now(),
            assets=[],
            url=self._api(f"/releases/{release_id}"),
            assets_url=self._api(f"/releases/{release_id}/assets"),
            upload_url=f"{self.uploads_url}/repos/{self.repository}/releases/{release_id}/assets{{?name,label}}",
            html_url=f"https://github.com/{self.repository}/releases/tag/{tag}",
        )
        self.releases[release_id] = release
        return 201, self._release_view(release), {"Location": release["url"]}

    def _get_release_by_tag(self, call: Call) -> Reply:
        for release in self.releases.values():
            if release["tag_name"] == call.params["tag"]:
                return 200, self._release_view(release), {}
        return _error(404, "Not Found")

    def _list_releases(self, call: Call) -> Reply:
        return self._page(
            call, [self._release_view(r) for _, r in sorted(self.releases.items(), reverse=True)]
        )

    def _upload_asset(self, call: Call) -> Reply:
        release_id = call.params["release_id"]
        if release_id not in self.releases:
            return _error(404, "Not Found")
        name = call.query["name"]
        if any(
            a["name"] == name and self._asset_release[i] == release_id
            for i, a in self.assets.items()
        ):
            return _validation_failed("ReleaseAsset", "name", "already_exists")
        asset_id = next(self._ids)
        asset = _example("release-asset-response-for-successful-upload")
        data = call.body or b""
        asset.update(
            id=asset_id,
            name=name,
            label=call.query.get("label", ""),
            state="uploaded",
            content_type=call.request.content_type or "application/octet-stream",
            size=len(data),
            digest="sha256:" + hashlib.sha256(data).hexdigest(),
            download_count=0,
            created_at=_now(),
            updated_at=_now(),
            url=self._api(f"/releases/assets/{asset_id}"),
            browser_download_url=f"https://github.com/{self.repository}/releases/download/"
            f"{self.releases[release_id]['tag_name']}/{name}",
        )
        self.assets[asset_id], self.asset_data[asset_id] = asset, data
        self._asset_release[asset_id] = release_id
        return 201, asset, {}

    def _list_assets(self, call: Call) -> Reply:
        if call.params["release_id"] not in self.releases:
            return _error(404, "Not Found")
        return self._page(
            call, self._release_view(self.releases[call.params["release_id"]])["assets"]
        )

    def _delete_asset(self, call: Call) -> Reply:
        asset_id = call.params["asset_id"]
        if self.assets.pop(asset_id, None) is None:
            return _error(404, "Not Found")
        del self.asset_data[asset_id], self._asset_release[asset_id]
        return 204, None, {}

    def _create_status(self, call: Call) -> Reply:
        status = _example("status")
        status.update(
            id=next(self._ids),
            state=call.body["state"],
            context=call.body.get("context") or "default",
            description=call.body.get("description"),
            target_url=call.body.get("target_url"),
            created_at=_now(),
            updated_at=_now(),
            url=self._api(f"/statuses/{call.params['sha']}"),
        )
        status["sha"] = call.params["sha"]
        self.statuses.append(status)
        return 201, {k: v for k, v in status.items() if k != "sha"}, {"Location": status["url"]}

    def _check_run_view(self, run: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        for key in ("name", "details_url", "external_id", "status", "conclusion"):
            if key in fields:
                run[key] = fields[key]
        if "output" in fields:
            run["output"].update(fields["output"])
        if fields.get("conclusion"):
            run.update(status="completed", completed_at=_now())
        return run

    def _create_check_run(self, call: Call) -> Reply:
        run = _example("check-run")
        run_id = next(self._ids)
        run.update(
            id=run_id,
            head_sha=call.body["head_sha"],
            status="queued",
            conclusion=None,
            started_at=_now(),
            completed_at=None,
            pull_requests=[],
            url=self._api(f"/check-runs/{run_id}"),
            html_url=f"https://github.com/{self.repository}/runs/{run_id}",
        )
        self.check_runs[run_id] = self._check_run_view(run, call.body)
        return 201, run, {}

    def _update_check_run(self, call: Call) -> Reply:
        run = self.check_runs.get(call.params["check_run_id"])
        if run is None:
            return _error(404, "Not Found")
        return 200, self._check_run_view(run, call.body), {}

    def _create_deployment(self, call: Call) -> Reply:
        deployment = _example("deployment-simple-example")
        deployment_id = next(self._ids)
        deployment.update(
            id=deployment_id,
            ref=call.body["ref"],
            sha=call.body["ref"]
            if len(call.body["ref"]) == 40
            else "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            task=call.body.get("task", "deploy"),
            payload=call.body.get("payload") or {},
            environment=call.body.get("environment", "production"),
            original_environment=call.body.get("environment", "production"),
            description=call.body.get("description"),
            created_at=_now(),
            updated_at=_now(),
            url=self._api(f"/deployments/{deployment_id}"),
            statuses_url=self._api(f"/deployments/{deployment_id}/statuses"),
        )
        self.deployments[deployment_id] = deployment
        return 201, deployment, {}

    def _create_deployment_status(self, call: Call) -> Reply:
        deployment = self.deployments.get(call.params["deployment_id"])
        if deployment is None:
            return _error(404, "Not Found")
        status = _example("deployment-status")
        status_id = next(self._ids)
        status.update(
            id=status_id,
            state=call.body["state"],
            description=call.body.get("description", ""),
            environment=call.body.get("environment") or deployment["environment"],
            environment_url=call.body.get("environment_url", ""),
            log_url=call.body.get("log_url", ""),
            target_url=call.body.get("log_url", ""),
            created_at=_now(),
            updated_at=_now(),
            deployment_url=deployment["url"],
            url=f"{deployment['url']}/statuses/{status_id}",
        )
        self.deployment_statuses.append(status)
        return 201, status, {"Location": status["url"]}

    def _list_deployments(self, call: Call) -> Reply:
        filters = {
            k: call.query[k] for k in ("sha", "ref", "task", "environment") if call.query.get(k)
        }
        items = [
            d
            for _, d in sorted(self.deployments.items(), reverse=True)
            if all(d[k] == v for k, v in filters.items())
        ]
        return self._page(call, items)

    def _get_pull(self, call: Call) -> Reply:
        pull = self.pulls.get(call.params["pull_number"])
        return (200, pull, {}) if pull else _error(404, "Not Found")

    def _list_pulls_for_commit(self, call: Call) -> Reply:
        simple_keys = set(_example("pull-request-simple-items"))
        items = [
            {k: v for k, v in p.items() if k in simple_keys}
            for p in self.pulls.values()
            if p["head"]["sha"] == call.params["commit_sha"]
        ]
        return self._page(call, items)

    def _get_workflow_run(self, call: Call) -> Reply:
        run = self.workflow_runs.get(call.params["run_id"])
        return (200, run, {}) if run else _error(404, "Not Found")

    def _list_run_artifacts(self, call: Call) -> Reply:
        """GitHub's list: an object ``{total_count, artifacts}``, paged, newest first,
        ``name`` filtering by exact name."""
        run_id = call.params["run_id"]
        if run_id not in self.workflow_runs:
            return _error(404, "Not Found")
        name = call.query.get("name")
        items = [
            a
            for _, a in sorted(self.artifacts.items(), reverse=True)
            if a["workflow_run"]["id"] == run_id and (not name or a["name"] == name)
        ]
        status, page, headers = self._page(call, items)
        return status, {"total_count": len(items), "artifacts": page}, headers

    def _download_artifact(self, call: Call) -> Reply:
        """302 to a link on the storage host that lives a minute; ``zip`` is the only format."""
        artifact = self.artifacts.get(call.params["artifact_id"])
        if artifact is None or call.params["archive_format"] != "zip":
            return _error(404, "Not Found")
        token = secrets.token_urlsafe(16)
        self._downloads[token] = (self.artifact_data[artifact["id"]], time.time() + 60)
        location = f"{call.host}{DOWNLOADS_PREFIX}/artifact-{artifact['id']}.zip?token={token}"
        return 302, None, {"Location": location}

    def _rate_limit(self, call: Call) -> Reply:
        overview = _example("rate-limit-overview")
        core = {
            "limit": RATE_LIMIT,
            "used": self._used,
            "remaining": RATE_LIMIT - self._used,
            "reset": int(time.time()) // 3600 * 3600 + 3600,
        }
        overview["resources"]["core"] = overview["rate"] = core
        return 200, overview, {}

    # -- handlers: the repository (contents, git database) and release downloads -----------
    # Writes through the contents API take ``write_latency`` outside the lock, as GitHub's do:
    # two on one branch overlap and the later gets 409, even for different files (the spec's
    # note on create-or-update-file-contents). A stale blob ``sha`` is 409 "<path> does not
    # match <sha>"; a file that exists and no ``sha`` is 422; a ref moves by fast-forward only.

    def _repository_handlers(self) -> dict[str, Callable[[Call], Reply]]:
        return {
            "repos/get-content": self._get_content,
            "repos/create-or-update-file-contents": self._put_content,
            "repos/delete-file": self._delete_content,
            "git/get-ref": self._get_ref,
            "git/create-ref": self._create_ref,
            "git/update-ref": self._update_ref,
            "git/get-commit": self._get_commit,
            "git/create-commit": self._create_commit,
            "git/get-tree": self._get_tree,
            "git/create-tree": self._create_tree,
            "git/get-blob": self._get_blob,
            "git/create-blob": self._create_blob,
            "repos/get-release": self._get_release,
            "repos/update-release": self._update_release,
            "repos/get-release-asset": self._get_asset,
        }

    def _content_entry(self, path: str, entry: git.Entry, ref: str) -> dict[str, Any]:
        url = self._api(f"/contents/{quote(path)}?ref={quote(ref, safe='')}")
        kind = "dir" if entry.type == "tree" else "file"
        html = f"https://github.com/{self.repository}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
        git_url = self._api(f"/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}")
        return {
            "type": kind,
            "size": 0 if kind == "dir" else len(self.git.blobs[entry.sha]),
            "name": entry.name,
            "path": path,
            "sha": entry.sha,
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": None
            if kind == "dir"
            else f"https://raw.githubusercontent.com/{self.repository}/{ref}/{path}",
            "_links": {"self": url, "git": git_url, "html": html},
        }

    def _get_content(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(404, "This repository is empty.")
        ref = call.query.get("ref") or self.git.default_branch
        commit = self.git.commit_of(ref)
        if commit is None:
            return _error(404, f"No commit found for the ref {ref}")
        path = call.params["path"].strip("/")
        entry = self.git.lookup(self.git.commits[commit].tree, path)
        if entry is None:
            return _error(404, "Not Found")
        if entry.type == "tree":
            body: Any = [
                self._content_entry(f"{path}/{e.name}", e, ref) for e in self.git.trees[entry.sha]
            ]
        else:
            data = self.git.blobs[entry.sha]
            small = len(data) <= MAX_CONTENT_BYTES
            body = {
                **self._content_entry(path, entry, ref),
                "content": _base64_lines(data) if small else "",
                "encoding": "base64" if small else "none",
            }
        etag = '"' + hashlib.sha1(json.dumps(body).encode()).hexdigest() + '"'
        if etag in call.request.headers.get("If-None-Match", ""):
            return 304, None, {"ETag": etag}
        return 200, body, {"ETag": etag}

    def _file_commit(self, path: str, entry: git.Entry | None, commit: str, ref: str) -> Any:
        return {
            "content": None if entry is None else self._content_entry(path, entry, ref),
            "commit": self._commit_view(commit),
        }

    def _write_file(self, call: Call, data: bytes | None) -> Reply:
        """Create, replace (``data``) or delete (None) one file, as one commit on the branch."""
        if self.git.empty:
            return _error(404, "This repository is empty.")
        path = call.params["path"].strip("/")
        branch = call.body.get("branch") or self.git.default_branch
        head = self.git.branch(branch)
        if head is None:
            return _error(404, f"Branch {branch} not found")
        tree = self.git.commits[head].tree
        existing = self.git.lookup(tree, path)
        sha = call.body.get("sha")
        if existing is not None and existing.type == "tree":
            return _error(422, f"path {path} is a directory")
        if data is None and existing is None:
            return _error(404, "Not Found")
        if existing is not None and not sha:
            return _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and sha != existing.sha:
            return _error(409, f"{path} does not match {sha}")
        blob = None if data is None else self.git.put_blob(data)
        verb = "Delete" if data is None else ("Update" if existing else "Create")
        who = _committer(call.body)
        commit = self.git.put_commit(
            self.git.tree_with(tree, path, blob),
            (head,),
            call.body.get("message") or f"{verb} {path}",
            _author(call.body) or who,
            who,
        )
        self._lock.release()  # held once by __call__: let other requests in meanwhile
        try:
            time.sleep(self.write_latency)
        finally:
            self._lock.acquire()
        now = self.git.branch(branch)
        if now != head:
            return _error(409, f"is at {now} but expected {head}")
        self.git.refs[f"refs/heads/{branch}"] = commit
        entry = None if blob is None else self.git.lookup(self.git.commits[commit].tree, path)
        status = 200 if existing is not None else 201
        return status, self._file_commit(path, entry, commit, branch), {}

    def _put_content(self, call: Call) -> Reply:
        try:
            data = base64.b64decode(call.body["content"], validate=True)
        except ValueError:
            return _validation_failed("Content", "content", "invalid")
        return self._write_file(call, data)

    def _delete_content(self, call: Call) -> Reply:
        return self._write_file(call, None)

    def _ref_view(self, name: str) -> dict[str, Any]:
        sha = self.git.refs[name]
        kind = self.git.kind(sha) or "commit"
        return {
            "ref": name,
            "node_id": "REF_" + hashlib.sha1(name.encode()).hexdigest()[:16],
            "url": self._api(f"/git/{name}"),
            "object": {"type": kind, "sha": sha, "url": self._api(f"/git/{kind}s/{sha}")},
        }

    def _get_ref(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        name = "refs/" + call.params["ref"]
        return (
            (200, self._ref_view(name), {}) if name in self.git.refs else _error(404, "Not Found")
        )

    def _create_ref(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        name, sha = call.body["ref"], call.body["sha"]
        if not name.startswith("refs/") or name.count("/") < 2:
            return _error(422, f"{name} is not a valid ref name.")
        if name in self.git.refs:
            return _error(422, "Reference already exists")
        if self.git.kind(sha) is None:
            return _error(422, "Object does not exist")
        self.git.refs[name] = sha
        view = self._ref_view(name)
        return 201, view, {"Location": view["url"]}

    def _update_ref(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        name, sha = "refs/" + call.params["ref"], call.body["sha"]
        if name not in self.git.refs:
            return _error(422, "Reference does not exist")
        if sha not in self.git.commits:
            return _error(422, "Object does not exist")
        if not call.body.get("force") and not self.git.is_ancestor(self.git.refs[name], sha):
            return _error(422, "Update is not a fast forward")
        self.git.refs[name] = sha
        return 200, self._ref_view(name), {}

    def _commit_view(self, sha: str) -> dict[str, Any]:
        commit = self.git.commits[sha]
        return {
            "sha": sha,
            "node_id": "C_" + sha[:16],
            "url": self._api(f"/git/commits/{sha}"),
            "html_url": f"https://github.com/{self.repository}/commit/{sha}",
            "author": commit.author,
            "committer": commit.committer,
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": self._api(f"/git/trees/{commit.tree}")},
            "parents": [
                {
                    "sha": p,
                    "url": self._api(f"/git/commits/{p}"),
                    "html_url": f"https://github.com/{self.repository}/commit/{p}",
                }
                for p in commit.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def _get_commit(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        sha = call.params["commit_sha"]
        return (
            (200, self._commit_view(sha), {})
            if sha in self.git.commits
            else _error(404, "Not Found")
        )

    def _create_commit(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        tree, parents = call.body["tree"], tuple(call.body.get("parents") or ())
        if tree not in self.git.trees:
            return _validation_failed("Commit", "tree", "invalid")
        if any(p not in self.git.commits for p in parents):
            return _validation_failed("Commit", "parents", "invalid")
        who = _committer(call.body)
        sha = self.git.put_commit(
            tree, parents, call.body["message"], _author(call.body) or who, who
        )
        view = self._commit_view(sha)
        return 201, view, {"Location": view["url"]}

    def _tree_view(self, sha: str, recursive: bool) -> dict[str, Any]:
        entries = self.git.walk(sha) if recursive else [(e.name, e) for e in self.git.trees[sha]]
        items = []
        for path, entry in entries:
            item = {"path": path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
            if entry.type == "blob":
                item["size"] = len(self.git.blobs[entry.sha])
            item["url"] = self._api(f"/git/{entry.type}s/{entry.sha}")
            items.append(item)
        return {
            "sha": sha,
            "url": self._api(f"/git/trees/{sha}"),
            "tree": items,
            "truncated": False,
        }

    def _get_tree(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        name = call.params["tree_sha"]
        commit = self.git.commit_of(name)
        sha = self.git.commits[commit].tree if commit else name
        if sha not in self.git.trees:
            return _error(404, "Not Found")
        return 200, self._tree_view(sha, "recursive" in call.query), {}

    def _create_tree(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        base = call.body.get("base_tree")
        if base is not None and base not in self.git.trees:
            return _validation_failed("Tree", "base_tree", "invalid")
        tree = base if base is not None else self.git.put_tree(())
        for index, item in enumerate(call.body["tree"]):
            if "content" in item and item.get("sha") is not None:
                return _validation_failed("Tree", f"tree.{index}", "invalid")
            if "content" in item:
                blob: str | None = self.git.put_blob(item["content"].encode())
            else:
                blob = item.get("sha")
                if blob is not None and self.git.kind(blob) is None:
                    return _validation_failed("Tree", f"tree.{index}.sha", "invalid")
            tree = self.git.tree_with(tree, item["path"], blob, item.get("mode", git.FILE_MODE))
        view = self._tree_view(tree, False)
        return 201, view, {"Location": view["url"]}

    def _get_blob(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        sha = call.params["file_sha"]
        if sha not in self.git.blobs:
            return _error(404, "Not Found")
        data = self.git.blobs[sha]
        return (
            200,
            {
                "sha": sha,
                "node_id": "B_" + sha[:16],
                "url": self._api(f"/git/blobs/{sha}"),
                "size": len(data),
                "content": _base64_lines(data),
                "encoding": "base64",
            },
            {},
        )

    def _create_blob(self, call: Call) -> Reply:
        if self.git.empty:
            return _error(409, "Git Repository is empty.")
        encoding = call.body.get("encoding", "utf-8")
        if encoding not in ("utf-8", "base64"):
            return _validation_failed("Blob", "encoding", "invalid")
        text = call.body["content"]
        try:
            data = base64.b64decode(text, validate=True) if encoding == "base64" else text.encode()
        except ValueError:
            return _validation_failed("Blob", "content", "invalid")
        sha = self.git.put_blob(data)
        url = self._api(f"/git/blobs/{sha}")
        return 201, {"url": url, "sha": sha}, {"Location": url}

    def _get_release(self, call: Call) -> Reply:
        release = self.releases.get(call.params["release_id"])
        return (200, self._release_view(release), {}) if release else _error(404, "Not Found")

    def _update_release(self, call: Call) -> Reply:
        release = self.releases.get(call.params["release_id"])
        if release is None:
            return _error(404, "Not Found")
        fields = call.body if isinstance(call.body, dict) else {}
        tag = fields.get("tag_name")
        if tag and any(r["tag_name"] == tag and r is not release for r in self.releases.values()):
            return _validation_failed("Release", "tag_name", "already_exists")
        for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if key in fields:
                release[key] = fields[key]
        return 200, self._release_view(release), {}

    def _get_asset(self, call: Call) -> Reply:
        asset = self.assets.get(call.params["asset_id"])
        if asset is None:
            return _error(404, "Not Found")
        if "application/octet-stream" not in call.request.headers.get("Accept", ""):
            return 200, asset, {}
        token = secrets.token_urlsafe(16)
        self._downloads[token] = (self.asset_data[asset["id"]], time.time() + 60)  # minutes
        location = (
            f"{call.host}{DOWNLOADS_PREFIX}/{asset['id']}/{quote(asset['name'])}?token={token}"
        )
        return 302, None, {"Location": location}

    def _download(self, request: Request) -> Response:
        """The storage host asset and artifact downloads redirect to: a signed URL, no token.

        Like S3 behind GitHub's links, it refuses a request that also carries an
        ``Authorization`` header, so a client that forwards the token fails here.
        """
        if request.headers.get("Authorization"):
            self._violate(request, "a download sent the GitHub token to the storage host")
            return Response(
                b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                b"</Message></Error>",
                status=400,
                content_type="application/xml",
            )
        with self._lock:
            data, expiry = self._downloads.get(request.args.get("token", ""), (b"", 0.0))
        if time.time() > expiry:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", status=403)
        return Response(data, status=200, content_type="application/octet-stream")


def _error(status: int, message: str) -> Reply:
    return status, {"message": message, "documentation_url": DOCS_URL, "status": str(status)}, {}


def _validation_failed(resource: str, field_name: str, code: str) -> Reply:
    body = {
        "message": "Validation Failed",
        "documentation_url": DOCS_URL,
        "status": "422",
        "errors": [{"resource": resource, "code": code, "field": field_name}],
    }
    return 422, body, {}


def _body_too_long(resource: str) -> Reply:
    """What GitHub answers for a body over 65536 characters (observed, not in the spec)."""
    status, body, headers = _validation_failed(resource, "data", "unprocessable")
    body["errors"][0]["message"] = f"Body is too long (maximum is {MAX_BODY_CHARS} characters)"
    return status, body, headers


def _base64_lines(data: bytes) -> str:
    """Base64 as GitHub sends file and blob contents: a newline after every 60 characters."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def _committer(body: dict[str, Any]) -> dict[str, str]:
    """The committer a request names, else the token's identity, dated now."""
    named = body.get("committer") or {}
    return {**git.person(BOT), **{k: v for k, v in named.items() if k in ("name", "email")}}


def _author(body: dict[str, Any]) -> dict[str, str] | None:
    named = body.get("author")
    return None if not named else {**git.person(named["name"]), "email": named["email"]}


def _user(login: str) -> dict[str, Any]:
    """A simple-user as GitHub shows the author of an issue or comment."""
    user = _example("issue")["user"]
    bot = login.endswith("[bot]")
    user.update(
        login=login,
        id=_BOT_ID
        if login == BOT_LOGIN
        else int(hashlib.sha256(login.encode()).hexdigest()[:8], 16),
        type="Bot" if bot else "User",
        url=f"https://api.github.com/users/{login}",
        html_url=f"https://github.com/{'apps/' + login[:-5] if bot else login}",
    )
    return user


def _label(name: str) -> dict[str, Any]:
    return {
        "id": abs(hash(name)) % 10**9,
        "node_id": "LA_fake",
        "url": "",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def _without_null_enums(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_null_enums(v)
            for k, v in value.items()
            if not (k in _NULLABLE_ENUMS and v is None)
        }
    if isinstance(value, list):
        return [_without_null_enums(v) for v in value]
    return value


def _describe(error: Exception) -> str:
    """openapi-core's error plus the schema errors under it, on one line."""
    causes = (
        getattr(error.__cause__, "schema_errors", None)
        or getattr(error, "schema_errors", None)
        or []
    )
    parts = [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in causes]
    text = "; ".join(parts) if parts else str(error)
    return f"{type(error).__name__}: {' '.join(text.split())[:500]}"


class _QuietHandler(WSGIRequestHandler):
    """Keep pytest output clean: the fake's log is ``exchanges``."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass
