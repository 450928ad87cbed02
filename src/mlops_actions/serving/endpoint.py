"""The client side of an inference server's API, as the ``http`` deploy target drives it.

It speaks the Open Inference Protocol with the repository extension, so the same target
works against ``mlops serve`` and Triton: hand over a version, then smoke-test it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from mlops_actions import workdir as layout
from mlops_actions.config import Config, DeployTarget
from mlops_actions.errors import DeployFailed, UsageError
from mlops_actions.model import OnnxModel, mismatch, packaged_sample
from mlops_actions.registry.triton import model_config
from mlops_actions.serving.protocol import named_outputs, outputs_from_v2, v2_request


class HttpEndpoint:
    """A server speaking the Open Inference Protocol with the repository extension (``mlops serve``, Triton)."""

    def __init__(self, spec: DeployTarget, config: Config) -> None:
        self.url = str(spec.url).rstrip("/")
        self.model = spec.model_name or config.name
        self.deadline_s = spec.deadline_s
        token = os.environ.get(spec.token_env, "") if spec.token_env else ""
        if spec.token_env and not token:
            raise UsageError(
                f"{config.label}: deploy.targets.{spec.name}.token_env: ${spec.token_env} is not set"
            )
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def load(self, version: int, model_bytes: bytes) -> None:
        """``POST /v2/repository/models/{name}/load`` with the file inline and the model
        config Triton needs beside it (mlops serve reads the graph instead)."""
        import requests

        config = model_config(self.model, model_bytes, versions=[version])
        body = {
            "parameters": {
                "config": json.dumps(config),
                f"file:{version}/{layout.ONNX_FILE}": base64.b64encode(model_bytes).decode(),
            }
        }
        url = f"{self.url}/v2/repository/models/{self.model}/load"
        try:
            resp = requests.post(
                url, json=body, headers=self.headers, timeout=max(self.deadline_s, 30)
            )
        except requests.RequestException as exc:
            raise DeployFailed(
                f"{url}: cannot hand over version {version}: {type(exc).__name__}"
            ) from None
        if resp.status_code != 200:
            raise DeployFailed(
                f"{url}: load of version {version} refused ({resp.status_code} {_error_text(resp)})"
            )

    def smoke(self, onnx: OnnxModel, version: int, *, candidate_source: str) -> dict[str, Any]:
        """The packaged test sample must come back right, from ``version``, within the deadline.

        Asked of that version's route; the answer carries the graph's output names, read
        by role (label, probabilities, value) as the sample stores them."""
        import requests

        frame, expected, atol = packaged_sample(onnx, candidate_source)
        url = f"{self.url}/v2/models/{self.model}/versions/{version}/infer"
        start = time.monotonic()
        try:
            resp = requests.post(
                url,
                json=v2_request(frame, onnx.features),
                headers=self.headers,
                timeout=self.deadline_s,
            )
        except requests.RequestException as exc:
            raise DeployFailed(
                f"smoke request to {url} got no answer within {self.deadline_s:g} s ({type(exc).__name__})"
            ) from None
        seconds = time.monotonic() - start
        if seconds > self.deadline_s:
            raise DeployFailed(
                f"smoke request to {url} took {seconds:.2f} s, over the {self.deadline_s:g} s deadline"
            )
        if resp.status_code != 200:
            raise DeployFailed(
                f"smoke request to {url} answered {resp.status_code} {_error_text(resp)}"
            )
        try:
            body = resp.json()
            outputs = named_outputs(outputs_from_v2(body), onnx.task)
        except (ValueError, KeyError, TypeError, StopIteration) as exc:
            raise DeployFailed(f"smoke request to {url}: unreadable answer ({exc})") from None
        if str(body.get("model_version")) != str(version):
            raise DeployFailed(
                f"smoke request to {url} was answered by version {body.get('model_version')!r}, not {version}"
            )
        problem = mismatch(expected, outputs, atol=atol)
        if problem:
            raise DeployFailed(f"smoke request to {url}: {problem}")
        return {
            "passed": True,
            "rows": len(frame),
            "seconds": round(seconds, 4),
            "deadline_s": self.deadline_s,
        }


def _error_text(resp: Any) -> str:
    try:
        return str(resp.json().get("error", ""))[:200]
    except ValueError:
        return resp.text[:200]
