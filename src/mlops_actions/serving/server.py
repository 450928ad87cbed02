"""``mlops serve``: a registry alias behind the Open Inference Protocol (KServe V2 REST).

Routes: ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}``,
``/v2/models/{name}/ready``, ``/v2/models/{name}/infer``, a plain ``/predict`` taking
records, and ``/v2/repository/models/{name}/load`` (Triton's repository extension, with the
model file inline) for the ``http`` deploy target, behind a bearer token.

The served model is one reference: a reload builds the new session aside and swaps the
reference, so a request finishes on the session it started with and none is dropped.
Small requests are answered on the event loop (a thread hand-off would cost more than
the inference), large ones in worker threads; bad input is a 4xx with a message, never a
crash.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions.errors import ModelError, UsageError
from mlops_actions.files import atomic_write_bytes
from mlops_actions.model import OnnxModel
from mlops_actions.registry.targets import registry_for
from mlops_actions.serving.inference_log import InferenceLog
from mlops_actions.serving.protocol import (
    LABEL,
    PROBABILITIES,
    VALUE,
    RequestError,
    columns_from_records,
    columns_from_v2,
    named_outputs,
    v2_response,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from mlops_actions.config import Config
    from mlops_actions.model import OnnxModel
    from mlops_actions.registry.store import Registry
    from mlops_actions.serving.inference_log import InferenceLog

log = logging.getLogger("mlops.serve")
MAX_ROWS = 10_000
MAX_BODY_BYTES = 64 << 20
INLINE_BODY_BYTES = 16 << 10
_FILE_PARAMETER = re.compile(r"^file:(\d+)/model\.onnx$")


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
        self.cache_dir = Path(cache_dir)
        self.inference_log = inference_log
        self.admin_token = admin_token
        self.poll_s = poll_s
        self.max_rows = max_rows
        self.current: Loaded | None = None
        self._alias_seen: int | None = None
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

    def refresh(self) -> bool:
        """Load the alias's version if the alias moved since last look; True if it did."""
        if self.registry is None:
            return False
        alias = self.registry.alias(self.name, self.alias)
        if alias is None or alias.version == self._alias_seen:
            return False
        version = self.registry.version(self.name, alias.version)
        self._swap(self.registry.local_copy(version, self.cache_dir), str(alias.version))
        self._alias_seen = alias.version
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

    def load(self, body: Any, authorization: str | None) -> dict[str, Any]:
        """Triton's ``load`` with ``parameters: {"file:<version>/model.onnx": <base64>}``."""
        if not self.admin_token:
            raise RequestError(
                "model loading is off; start mlops serve with --admin-token-env", status=403
            )
        sent = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), self.admin_token.encode()):
            raise RequestError("a valid bearer token is needed to load a model", status=401)
        parameters = body.get("parameters") if isinstance(body, dict) else None
        files = {
            m.group(1): v for k, v in (parameters or {}).items() if (m := _FILE_PARAMETER.match(k))
        }
        if len(files) != 1:
            raise RequestError(
                'parameters must hold one "file:<version>/model.onnx": <base64 ONNX bytes>'
            )
        ((version, encoded),) = files.items()
        try:
            data = base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError):
            raise RequestError(f"file:{version}/model.onnx is not base64") from None
        path = atomic_write_bytes(
            self.cache_dir / "loaded" / self.name / version / "model.onnx", data
        )
        try:
            self._swap(path, version)
        except ModelError as exc:
            raise RequestError(f"version {version} was not loaded: {exc}") from None
        return {"name": self.name, "version": version}

    # -- requests --------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        loaded = self._loaded()
        model = loaded.model
        inputs = [
            {
                "name": f.name,
                "datatype": "FP64" if f.kind == "numeric" else "BYTES",
                "shape": [-1, 1],
            }
            for f in model.features
        ]
        if model.task == "regression":
            outputs = [{"name": VALUE, "datatype": "FP64", "shape": [-1]}]
        else:
            outputs = [{"name": "label", "datatype": "BYTES", "shape": [-1]}]
            if PROBABILITIES in model.output_names:
                outputs.append(
                    {
                        "name": PROBABILITIES,
                        "datatype": "FP32",
                        "shape": [-1, len(model.classes or ())],
                    }
                )
        return {
            "name": self.name,
            "versions": [loaded.version],
            "platform": "onnxruntime_onnx",
            "inputs": inputs,
            "outputs": outputs,
        }

    def infer_v2(self, body: Any) -> dict[str, Any]:

        loaded = self._loaded()  # this request's model, whatever reloads happen meanwhile
        outputs = self._predict(
            loaded, columns_from_v2(body, loaded.model.features, max_rows=self.max_rows)
        )
        requested = {o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)}
        if requested:
            unknown = requested - set(outputs)
            if unknown:
                raise RequestError(
                    f"unknown output(s) {', '.join(map(repr, sorted(unknown)))}; outputs are {', '.join(outputs)}"
                )
            outputs = {k: v for k, v in outputs.items() if k in requested}
        return v2_response(
            outputs, model=self.name, version=loaded.version, request_id=body.get("id")
        )

    def predict_records(self, body: Any) -> dict[str, Any]:

        loaded = self._loaded()
        outputs = self._predict(
            loaded, columns_from_records(body, loaded.model.features, max_rows=self.max_rows)
        )
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

        model = loaded.model
        feed = {
            name: columns[name].astype(dtype, copy=False).reshape(-1, 1)
            for name, dtype in loaded.dtypes.items()
        }
        outputs = named_outputs(
            dict(zip(model.output_names, model.run(feed), strict=True)), model.task
        )
        if self.inference_log is not None:
            self.inference_log.write(
                columns, outputs.get(VALUE, outputs.get(LABEL)), loaded.version
            )
        return outputs

    def _loaded(self) -> Loaded:
        loaded = self.current
        if loaded is None:
            raise RequestError("no model loaded yet", status=503)
        return loaded


def create_app(server: ModelServer) -> Starlette:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def answer(request: Request, work: Any, *extra: Any) -> Any:
        """``work(body)``: inline for small bodies, where a thread hand-off costs more than the
        inference (GIL switch intervals under load); in a worker thread for large ones."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestError(
                f"body of {declared} bytes is over the {MAX_BODY_BYTES} byte limit", status=413
            )
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise RequestError(
                f"body of {len(raw)} bytes is over the {MAX_BODY_BYTES} byte limit", status=413
            )
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise RequestError(f"body is not JSON: {exc}") from None
        if len(raw) <= INLINE_BODY_BYTES:
            return work(body, *extra)
        return await run_in_threadpool(work, body, *extra)

    def answering(handler: Any) -> Any:
        """Every refusal becomes a JSON ``{"error": ...}`` with its status; nothing escapes."""

        async def endpoint(request: Request) -> JSONResponse:
            try:
                name = request.path_params.get("name")
                if name is not None and name != server.name:
                    return error(f"unknown model {name!r}; this server serves {server.name!r}", 404)
                return JSONResponse(await handler(request))
            except RequestError as exc:
                return error(str(exc), exc.status)
            except Exception as exc:  # a bug or a model failure: answer, log, keep serving
                log.exception("request to %s failed", request.url.path)
                return error(f"internal error: {type(exc).__name__}: {exc}", 500)

        return endpoint

    async def live(request: Request) -> dict[str, Any]:
        return {"live": True}

    async def ready(request: Request) -> dict[str, Any]:
        if server.current is None:
            raise RequestError("no model loaded yet", status=503)
        return {"ready": True, "name": server.name, "version": server.current.version}

    async def server_metadata(request: Request) -> dict[str, Any]:
        return {"name": "mlops-serve", "version": __version__, "extensions": ["model_repository"]}

    async def model_metadata(request: Request) -> dict[str, Any]:
        return server.metadata()

    async def infer(request: Request) -> dict[str, Any]:
        return await answer(request, server.infer_v2)

    async def predict(request: Request) -> dict[str, Any]:
        return await answer(request, server.predict_records)

    async def load(request: Request) -> dict[str, Any]:
        return await answer(request, server.load, request.headers.get("authorization"))

    routes = [
        Route("/v2/health/live", answering(live)),
        Route("/v2/health/ready", answering(ready)),
        Route("/v2", answering(server_metadata)),
        Route("/v2/models/{name}", answering(model_metadata)),
        Route("/v2/models/{name}/ready", answering(ready)),
        Route("/v2/models/{name}/infer", answering(infer), methods=["POST"]),
        Route("/v2/repository/models/{name}/load", answering(load), methods=["POST"]),
        Route("/predict", answering(predict), methods=["POST"]),
    ]

    async def lifespan(app: Starlette) -> Any:
        await run_in_threadpool(server.start)
        yield
        await run_in_threadpool(server.stop)

    from contextlib import asynccontextmanager

    return Starlette(routes=routes, lifespan=asynccontextmanager(lifespan))


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
    uvicorn.run(create_app(server), host=host, port=port, log_level="warning", access_log=False)
