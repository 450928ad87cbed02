"""``mlops serve``: a registry alias behind the Open Inference Protocol (KServe V2 REST).

Routes: ``/v2`` (server metadata), ``/v2/health/live``, ``/v2/health/ready``, and per model
``/v2/models/{name}[/versions/{version}]`` with ``/ready`` and ``/infer``; Triton's binary
tensor extension (``Inference-Header-Content-Length``, ``binary_data_output``) and its model
repository extension (``/v2/repository/index``, ``/v2/repository/models/{name}/load`` and
``/unload``, the last two behind a bearer token) for the ``http`` deploy target; and a plain
``/predict`` taking records. Request bodies may be gzip or deflate compressed.

The served model is one reference: a reload builds the new session aside and swaps the
reference, so a request finishes on the session it started with and none is dropped.
Small requests are answered on the event loop (a thread hand-off would cost more than
the inference), larger ones in worker threads, and the largest are parsed in a separate
process: the JSON parser holds the GIL, and parsing 60 MB in a thread stalled every other
request, the liveness probe included, for seconds. Bodies are counted while they arrive
and cut off at the limit or the deadline (``limits.Limits``). Every refusal, routing ones
included, is a JSON ``{"error": ...}`` with its 4xx status; a failure of the server itself
is a 500 naming a request id that the log has with the traceback, never the exception text.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
import re
import threading
import uuid
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions.errors import ModelError, UsageError
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import LABEL, PROBABILITIES, VALUE, OnnxModel
from mlops_actions.registry.targets import registry_for
from mlops_actions.serving.inference_log import InferenceLog
from mlops_actions.serving.limits import DEFAULT_LIMITS, Limits, uvicorn_config
from mlops_actions.serving.protocol import (
    HEADER_LENGTH,
    ONNX_DATATYPES,
    InferRequest,
    RequestError,
    encode_infer,
    loads,
    named_outputs,
    parse_infer,
    parse_records,
    shown,
)

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlops_actions.config import Config
    from mlops_actions.registry.store import Registry

log = logging.getLogger("mlops.serve")
MAX_ROWS = 10_000
INLINE_BODY_BYTES = 16 << 10
PARSE_ASIDE_BYTES = 1 << 20
"""Bodies from this size are parsed in a separate process (json.loads holds the GIL ~30 ms per MB)."""
PLATFORM = "onnxruntime_onnx"
_FILE_PARAMETER = re.compile(r"^file:(\d+)/(.+)$")


@dataclass(frozen=True)
class Loaded:
    model: OnnxModel
    version: str
    dtypes: dict[str, Any]
    """numpy dtype of each graph input, so requests are fed without building a DataFrame."""


class ModelServer:
    """The served model, where it comes from, and the requests it answers."""

    def __init__(
        self,
        name: str,
        *,
        registry: Registry | None = None,
        alias: str | None = None,
        model_path: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] = ".mlops/serve",
        inference_log: InferenceLog | None = None,
        admin_token: str | None = None,
        poll_s: float = 5.0,
        max_rows: int = MAX_ROWS,
    ) -> None:
        if (registry is None) == (model_path is None):
            raise UsageError(
                "mlops serve needs a registry alias (--target/--alias) or --model PATH, not both"
            )
        self.name = name
        self.registry = registry
        self.alias = alias
        self.model_path = model_path
        self.cache_dir = Path(cache_dir)
        self.inference_log = inference_log
        self.admin_token = admin_token
        self.poll_s = poll_s
        self.max_rows = max_rows
        self.current: Loaded | None = None
        self.unloaded = False
        """Unloaded through the repository API: the alias is not followed until a load."""
        self._alias_seen: int | None = None
        self._control = threading.Lock()  # one load, unload or alias reload at a time
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if model_path is not None:
            self._swap(model_path, "1")

    # -- the model ---------------------------------------------------------------------------

    def _swap(self, path: str | os.PathLike[str], version: str) -> None:
        import pandas as pd

        model = OnnxModel(path)  # built aside; the old one keeps serving meanwhile
        probe = pd.DataFrame({f.name: [None] for f in model.features})
        loaded = Loaded(
            model, version, {name: array.dtype for name, array in model.feed(probe).items()}
        )
        self.current = loaded
        log.warning("serving %s version %s from %s", self.name, version, path)

    def refresh(self, *, force: bool = False) -> bool:
        """Load the alias's version if the alias moved since last look (``force``: even if
        not, and after an unload); True if a version was loaded."""
        if self.registry is None:
            return False
        with self._control:
            if self.unloaded and not force:
                return False
            alias = self.registry.alias(self.name, self.alias)
            if alias is None or (alias.version == self._alias_seen and not force):
                return False
            version = self.registry.version(self.name, alias.version)
            self._swap(self.registry.local_copy(version, self.cache_dir), str(alias.version))
            self._alias_seen = alias.version
            self.unloaded = False
            return True

    def start(self) -> None:
        """Load the alias's version and start following it (once; later calls do nothing)."""
        if self.registry is None or self._watcher is not None:
            return
        self.refresh()
        if self.current is None:
            raise UsageError(
                f"registry {self.registry.url}: {self.name} has no alias {self.alias!r} to serve; "
                f"`mlops deploy --stage {self.alias}` first"
            )
        self._watcher = threading.Thread(target=self._watch, name="alias-watcher", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception as exc:  # a registry hiccup must not stop serving the current model
                log.warning(
                    "alias check failed, still serving version %s: %s", self._version(), exc
                )

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=self.poll_s + 5)
        if self.inference_log is not None:
            self.inference_log.close()

    def _version(self) -> str | None:
        return self.current.version if self.current else None

    # -- the repository extension ------------------------------------------------------------

    def _authorize(self, authorization: str | None) -> None:
        if not self.admin_token:
            raise RequestError(
                "model loading is off; start mlops serve with --admin-token-env", status=403
            )
        sent = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), self.admin_token.encode()):
            raise RequestError("a valid bearer token is needed to load a model", status=401)

    def load(self, raw: bytes, authorization: str | None) -> dict[str, Any]:
        """Triton's ``load``: with ``parameters: {"file:<version>/model.onnx": <base64>}`` that
        file, else the model again from where it came (the alias, or ``--model``).
        A ``config`` parameter is accepted and not needed: names and types come from the graph."""
        self._authorize(authorization)
        parameters = _request_parameters(raw, "load")
        config = parameters.pop("config", None)
        if config is not None and not isinstance(_json_text(config, "parameter 'config'"), dict):
            raise RequestError("parameter 'config' must be a JSON object (a Triton model config)")
        files = {k: v for k, v in parameters.items() if k.startswith("file:")}
        if not files:
            self._reload()
            return {}
        found = [
            (m.group(1), m.group(2), v) for k, v in files.items() if (m := _FILE_PARAMETER.match(k))
        ]
        if len(files) != 1 or len(found) != 1 or found[0][1] != "model.onnx":
            raise RequestError(
                'parameters must hold one "file:<version>/model.onnx": <base64 ONNX bytes>'
            )
        ((version, _, encoded),) = found
        try:
            data = base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError):
            raise RequestError(f"file:{version}/model.onnx is not base64") from None
        path = atomic_write_bytes(
            self.cache_dir / "loaded" / self.name / version / "model.onnx", data
        )
        with self._control:
            try:
                self._swap(path, version)
            except ModelError as exc:
                raise RequestError(f"version {version} was not loaded: {exc}") from None
            self.unloaded = False
        return {}

    def _reload(self) -> None:
        try:
            if self.registry is not None:
                self.refresh(force=True)
                return
            with self._control:
                self._swap(self.model_path, "1")
                self.unloaded = False
        except (ModelError, UsageError) as exc:
            raise RequestError(f"{self.name} was not reloaded: {exc}") from None

    def unload(self, raw: bytes, authorization: str | None) -> dict[str, Any]:
        """Triton's ``unload``: stop serving until the next ``load``."""
        self._authorize(authorization)
        _request_parameters(raw, "unload")
        with self._control:
            self.current = None
            self.unloaded = True
        log.warning("unloaded %s", self.name)
        return {}

    def index(self, raw: bytes) -> list[dict[str, Any]]:
        """Triton's repository ``index``: this server's one model and its state."""
        body = loads(raw, "the index request") if raw.strip() else {}
        if not isinstance(body, dict) or not isinstance(body.get("ready", False), bool):
            raise RequestError('the index request must be {} or {"ready": true|false}')
        loaded = self.current
        if loaded is not None:
            return [{"name": self.name, "version": loaded.version, "state": "READY", "reason": ""}]
        if body.get("ready"):
            return []
        reason = "unloaded" if self.unloaded else "not loaded yet"
        return [{"name": self.name, "state": "UNAVAILABLE", "reason": reason}]

    # -- requests --------------------------------------------------------------------------------

    def metadata(self, version: str | None = None) -> dict[str, Any]:
        loaded = self.loaded(version)
        model = loaded.model

        def tensor(name: str, kind: str) -> dict[str, Any]:
            return {"name": name, "datatype": ONNX_DATATYPES[kind], "shape": model.shapes[name]}

        return {
            "name": self.name,
            "versions": [loaded.version],
            "platform": PLATFORM,
            "inputs": [tensor(n, t) for n, t in model.input_types.items()],
            "outputs": [tensor(n, t) for n, t in model.output_types.items()],
        }

    def ready(self, version: str | None = None) -> dict[str, Any]:
        self.loaded(version)
        return {"name": self.name, "ready": True}

    def infer(
        self, raw: bytes, header_length: int | None, version: str | None = None
    ) -> tuple[bytes, int | None]:
        """A V2 ``infer`` body in, the answer body and its JSON header length out."""
        loaded = self.loaded(version)  # this request's model, whatever reloads happen meanwhile
        request = parse_infer(raw, header_length, loaded.model.features, max_rows=self.max_rows)
        return self.answer(loaded, request)

    def answer(self, loaded: Loaded, request: InferRequest) -> tuple[bytes, int | None]:
        """The answer to a parsed ``infer`` request, by ``loaded``."""
        outputs = self._predict(loaded, request.columns)
        if request.outputs is not None:
            unknown = [name for name in request.outputs if name not in outputs]
            if unknown:
                raise RequestError(
                    f"unknown output(s) {', '.join(map(shown, unknown))}; outputs are {', '.join(outputs)}"
                )
            outputs = {name: outputs[name] for name in request.outputs}
        return encode_infer(
            outputs,
            model=self.name,
            version=loaded.version,
            request_id=request.id,
            binary=request.binary_outputs(list(outputs)),
        )

    def predict_records(self, raw: bytes) -> dict[str, Any]:
        loaded = self.loaded()
        return self.records_answer(
            loaded, parse_records(raw, loaded.model.features, max_rows=self.max_rows)
        )

    def records_answer(self, loaded: Loaded, columns: dict[str, Any]) -> dict[str, Any]:
        """The ``/predict`` answer for checked feature columns, by ``loaded``."""
        outputs = named_outputs(self._predict(loaded, columns), loaded.model.task)
        answer: dict[str, Any] = {"model_name": self.name, "model_version": loaded.version}
        if VALUE in outputs:
            answer["predictions"] = outputs[VALUE].tolist()
        else:
            answer["predictions"] = outputs[LABEL].tolist()
            if PROBABILITIES in outputs and loaded.model.classes:
                answer["probabilities"] = [
                    dict(zip(loaded.model.classes, row, strict=True))
                    for row in outputs[PROBABILITIES].tolist()
                ]
        return answer

    def _predict(self, loaded: Loaded, columns: dict[str, Any]) -> dict[str, Any]:
        """The graph's outputs, by the graph's names, for checked feature columns."""
        model = loaded.model
        feed = {
            name: columns[name].astype(dtype, copy=False).reshape(-1, 1)
            for name, dtype in loaded.dtypes.items()
        }
        outputs = dict(zip(model.output_names, model.run(feed), strict=True))
        if self.inference_log is not None:
            roles = named_outputs(outputs, model.task)
            self.inference_log.write(columns, roles.get(VALUE, roles.get(LABEL)), loaded.version)
        return outputs

    def loaded(self, version: str | None = None) -> Loaded:
        loaded = self.current
        if loaded is None:
            state = "is unloaded" if self.unloaded else "is not loaded yet"
            raise RequestError(f"model {self.name!r} {state}", status=503)
        if version is not None and version != loaded.version:
            raise RequestError(
                f"model {self.name!r} has no version {version!r} here; it serves version "
                f"{loaded.version!r}",
                status=404,
            )
        return loaded


def _json_text(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise RequestError(f"{what} must be a string holding JSON")
    return loads(text, what)


def _request_parameters(raw: bytes, what: str) -> dict[str, Any]:
    """The ``parameters`` of a repository request body (which may be empty)."""
    body = loads(raw, f"the {what} request") if raw.strip() else {}
    parameters = body.get("parameters") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(parameters, (dict, type(None))):
        raise RequestError(f'the {what} request must be {{}} or {{"parameters": {{...}}}}')
    return dict(parameters or {})


def decoded_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """A request body without its ``Content-Encoding`` (gzip or deflate), within ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in ("gzip", "deflate"):
        raise RequestError(
            f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none",
            status=415,
        )
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise RequestError(f"the body is not valid {encoding} data: {exc}") from None
    if len(data) > limit:
        raise RequestError(f"the {encoding} body inflates past the {limit} byte limit", status=413)
    if not inflater.eof:
        raise RequestError(f"the {encoding} body is cut short")
    return data


class _Aside:
    """One worker process, started at the first large body, that parses large bodies."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def __call__(self, work: Any) -> Any:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        from multiprocessing import get_context

        if self._pool is None:  # spawn: forking a process that runs threads can deadlock
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, work)
        except BrokenProcessPool:  # the worker died (out of memory?): a new one next time
            if self._pool is pool:
                self._pool = None
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def create_app(server: ModelServer, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The ASGI app answering for ``server``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    aside = _Aside()

    def error(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
        if status in (408, 413):  # the rest of the body is unread: this connection is done
            headers = {**(headers or {}), "Connection": "close"}
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def body_of(request: Request) -> bytes:
        """The body, decoded, read no further than the size limit (the protocol bounds the
        time it may take)."""
        limit = limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(
                f"body of {declared} bytes is over the {limit} byte limit", status=413
            )
        chunks, size, more = [], 0, True
        while more:
            message = await request.receive()
            if message["type"] != "http.request":
                raise RequestError("the client closed the connection mid-body")
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                raise RequestError(f"the body is over the {limit} byte limit", status=413)
            chunks.append(chunk)
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        encoding = request.headers.get("content-encoding")
        if encoding is None or encoding.strip().lower() == "identity":
            return raw
        return await run_in_threadpool(decoded_body, raw, encoding, limit)

    async def run(raw: bytes, work: Any, *args: Any) -> Any:
        """``work(raw, *args)``: inline for small bodies, where a thread hand-off costs more
        than the inference (GIL switch intervals under load); in a worker thread for large ones."""
        if len(raw) <= INLINE_BODY_BYTES:
            return work(raw, *args)
        return await run_in_threadpool(work, raw, *args)

    def answering(handler: Any) -> Any:
        """Every refusal becomes a JSON ``{"error": ...}`` with its status; nothing escapes,
        and a server failure shows its request id, not its exception text."""

        async def endpoint(request: Request) -> Response:
            try:
                name = request.path_params.get("name")
                if name is not None and name != server.name:
                    return error(f"unknown model {name!r}; this server serves {server.name!r}", 404)
                answer = await handler(request)
                return answer if isinstance(answer, Response) else JSONResponse(answer)
            except RequestError as exc:
                return error(str(exc), exc.status)
            except Exception:  # a bug or a model failure: answer, log, keep serving
                request_id = uuid.uuid4().hex[:16]
                log.exception("request %s to %s failed", request_id, request.url.path)
                return error(
                    f"internal error, request id {request_id} (the server log has the details)",
                    500,
                    {"X-Request-Id": request_id},
                )

        return endpoint

    async def live(request: Request) -> dict[str, Any]:
        return {"live": True}

    async def ready(request: Request) -> dict[str, Any]:
        if server.current is None:
            raise RequestError(f"model {server.name!r} is not loaded", status=503)
        return {"ready": True}

    async def server_metadata(request: Request) -> dict[str, Any]:
        extensions = ["binary_tensor_data"]
        if server.admin_token:
            extensions.append("model_repository")
        return {"name": "mlops-serve", "version": __version__, "extensions": extensions}

    async def model_metadata(request: Request) -> dict[str, Any]:
        return server.metadata(request.path_params.get("version"))

    async def model_ready(request: Request) -> dict[str, Any]:
        return server.ready(request.path_params.get("version"))

    async def infer(request: Request) -> Response:
        declared = request.headers.get(HEADER_LENGTH)
        if declared is not None and not declared.strip().isdigit():
            raise RequestError(f"Inference-Header-Content-Length {declared!r} is not a number")
        header_length = int(declared) if declared is not None else None
        raw = await body_of(request)
        version = request.path_params.get("version")
        if len(raw) < PARSE_ASIDE_BYTES:
            body, json_length = await run(raw, server.infer, header_length, version)
        else:
            loaded = server.loaded(version)
            parse = partial(parse_infer, raw, header_length, loaded.model.features)
            parsed = await aside(partial(parse, max_rows=server.max_rows))
            body, json_length = await run_in_threadpool(server.answer, loaded, parsed)
        if json_length is None:
            return Response(body, media_type="application/json")
        return Response(
            body,
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(json_length)},
        )

    async def predict(request: Request) -> dict[str, Any]:
        raw = await body_of(request)
        if len(raw) < PARSE_ASIDE_BYTES:
            return await run(raw, server.predict_records)
        loaded = server.loaded()
        parse = partial(parse_records, raw, loaded.model.features, max_rows=server.max_rows)
        return await run_in_threadpool(server.records_answer, loaded, await aside(parse))

    async def index(request: Request) -> list[dict[str, Any]]:
        return server.index(await body_of(request))

    async def load(request: Request) -> dict[str, Any]:
        return await run(await body_of(request), server.load, request.headers.get("authorization"))

    async def unload(request: Request) -> dict[str, Any]:
        return server.unload(await body_of(request), request.headers.get("authorization"))

    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [  # tried in order: the inference routes first
        Route(f"{model}/infer", answering(infer), methods=["POST"]),
        Route(f"{versioned}/infer", answering(infer), methods=["POST"]),
        Route("/v2/health/live", answering(live)),
        Route("/v2/health/ready", answering(ready)),
        Route("/v2", answering(server_metadata)),
        Route(model, answering(model_metadata)),
        Route(versioned, answering(model_metadata)),
        Route(f"{model}/ready", answering(model_ready)),
        Route(f"{versioned}/ready", answering(model_ready)),
        Route("/v2/repository/index", answering(index), methods=["POST"]),
        Route("/v2/repository/models/{name}/load", answering(load), methods=["POST"]),
        Route("/v2/repository/models/{name}/unload", answering(unload), methods=["POST"]),
        Route("/predict", answering(predict), methods=["POST"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        """Routing refusals (no such path 404, wrong method 405) in the protocol's error shape."""
        assert isinstance(exc, HTTPException)
        return error(exc.detail, exc.status_code, exc.headers)

    async def lifespan(app: Starlette) -> Any:
        await run_in_threadpool(server.start)
        yield
        await run_in_threadpool(server.stop)
        await run_in_threadpool(aside.close)

    from contextlib import asynccontextmanager

    routed = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        lifespan=asynccontextmanager(lifespan),
    )
    hot = {
        ("GET", "/v2/health/live"): answering(live),
        ("POST", f"/v2/models/{server.name}/infer"): answering(infer),
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Liveness and inference, the routes called most, straight to their handlers: Starlette's
        middleware and router cost about as much as a batch-1 inference. Both go the same way,
        so the liveness round trip still measures what HTTP costs an inference."""
        endpoint = hot.get((scope.get("method"), scope.get("path")))
        if endpoint is None:
            await routed(scope, receive, send)
            return
        response = await endpoint(StarletteRequest(scope, receive))
        await response(scope, receive, send)

    return app


def serve(
    config: Config,
    *,
    target: str | None = None,
    alias: str = "production",
    model: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] = ".mlops",
    host: str = "127.0.0.1",
    port: int = 8080,
    log_dir: str | os.PathLike[str] | None = None,
    admin_token_env: str | None = None,
    poll_s: float = 5.0,
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Serve ``alias`` of the target's registry (or one ONNX file) on uvicorn until interrupted."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise UsageError(
            "mlops serve needs the serve extra: pip install 'mlops-actions[serve]'"
        ) from None
    admin_token = None
    if admin_token_env:
        admin_token = os.environ.get(admin_token_env, "")
        if not admin_token:
            raise UsageError(f"--admin-token-env {admin_token_env}: ${admin_token_env} is not set")
    server = ModelServer(
        config.name,
        registry=registry_for(config, target) if target else None,
        alias=alias,
        model_path=model,
        cache_dir=Path(workdir) / "serve",
        inference_log=InferenceLog(log_dir) if log_dir else None,
        admin_token=admin_token,
        poll_s=poll_s,
    )
    server.start()  # here, so a missing alias is a one-line error rather than a failed lifespan
    uvicorn.Server(uvicorn_config(create_app(server, limits), limits, host=host, port=port)).run()
