"""`mlops serve` under loopback load: batch-1 V2 infer requests, JSON and binary tensors.

The server's overhead is its infer latency over a ``GET /v2/health/live`` round trip to the
same server under the same load: what HTTP, the ASGI stack and the client cost alone, so
the ratio is what decoding, checking, onnxruntime and encoding add (target <= 1.5x). The
client is ``http.client``, one kept-alive connection per worker (``requests`` alone costs
more than the server). The same figures through ``tritonclient.http`` (what a Triton user
runs), and onnxruntime in-process, put the numbers in context.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import requests
from harness import median_seconds, report

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "penguins"
MODEL = "penguins-species"
WORKERS = 2
MAX_REQUESTS = 2000
MAX_SECONDS = 15.0
OVERHEAD_TARGET = 1.5
OUTPUTS = ("label", "probabilities")


def build_model(folder: Path) -> Path:
    """Train the penguins example and convert it, as train + package-onnx do."""
    import joblib

    from mlops_actions.config import load_config
    from mlops_actions.features import features_from_json
    from mlops_actions.files import atomic_write_bytes
    from mlops_actions.model import to_onnx
    from mlops_actions.stages.train import train

    config = load_config(EXAMPLE / "mlops.yaml")
    trained = train(config, workdir=folder)
    pipeline = joblib.load(trained.model_path)
    features = features_from_json(trained.features)
    metadata = {
        "features": trained.features,
        "target": {"task": config.task, "classes": list(pipeline.classes_)},
    }
    return atomic_write_bytes(folder / "model.onnx", to_onnx(pipeline, features, metadata=metadata))


def binary_request(row, features) -> tuple[bytes, dict[str, str]]:
    """The V2 request with every input as binary tensor data, outputs asked back binary."""
    tensors, blobs = [], []
    for feature in features:
        value = row[feature.name].iloc[0]
        if feature.kind == "numeric":
            blob = np.array([[value]], dtype="<f8").tobytes()
            datatype = "FP64"
        else:
            text = ("" if value != value else str(value)).encode()
            blob = len(text).to_bytes(4, "little") + text
            datatype = "BYTES"
        tensors.append(
            {
                "name": feature.name,
                "datatype": datatype,
                "shape": [1, 1],
                "parameters": {"binary_data_size": len(blob)},
            }
        )
        blobs.append(blob)
    header = json.dumps({"inputs": tensors, "parameters": {"binary_data_output": True}}).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return header + b"".join(blobs), headers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    import pandas as pd

    from mlops_actions.model import OnnxModel
    from mlops_actions.serving.protocol import v2_request

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        path = build_model(Path(tmp))
        model = OnnxModel(path)
        row = pd.read_csv(EXAMPLE / "data" / "test.csv").head(1)
        direct = median_seconds(lambda: model.predict(row), repeat=501, warmup=20)
        feed = model.feed(row)
        session_only = median_seconds(lambda: model.run(feed), repeat=501, warmup=20)
        port = free_port()
        server = start_server(path, port, tmp)
        try:
            json_body = json.dumps(v2_request(row, model.features)).encode()
            binary_body, binary_headers = binary_request(row, model.features)
            infer = f"/v2/models/{MODEL}/infer"
            floor = load(port, "GET", "/v2/health/live", None, {})
            as_json = load(port, "POST", infer, json_body, {"Content-Type": "application/json"})
            as_binary = load(port, "POST", infer, binary_body, binary_headers)
            triton = through_tritonclient(port, row, model.features)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"mlops serve, batch 1, {WORKERS} http.client workers: JSON {as_json.summary()}; "
        f"binary {as_binary.summary()}; live {floor.summary()}"
    )
    met = report(
        "serve p50, batch 1, JSON tensors",
        as_json.p50,
        "GET /v2/health/live round trip (HTTP alone)",
        floor.p50,
        target=OVERHEAD_TARGET,
    )
    met &= report(
        "serve p50, batch 1, binary tensors",
        as_binary.p50,
        "GET /v2/health/live round trip (HTTP alone)",
        floor.p50,
        target=OVERHEAD_TARGET,
    )
    report("serve p99, batch 1, JSON tensors", as_json.p99, "live round trip p99", floor.p99)
    for form in ("binary", "JSON"):
        report(
            f"tritonclient infer p50, batch 1, {form} tensors",
            triton[form].p50,
            "tritonclient is_server_live",
            triton["live"].p50,
        )
    report(
        "tritonclient infer p50, batch 1, binary tensors",
        triton["binary"].p50,
        "http.client binary infer (what the client costs)",
        as_binary.p50,
    )
    report("serve p50, batch 1, JSON tensors", as_json.p50, "OnnxModel.predict", direct)
    report(
        "serve p50, batch 1, JSON tensors",
        as_json.p50,
        "onnxruntime session.run on a prepared feed",
        session_only,
    )
    return 0 if met else 1


def start_server(path: Path, port: int, workdir: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "mlops_actions", "serve", "--config"]
    command += [str(EXAMPLE / "mlops.yaml"), "--model", str(path), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workdir", workdir],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).ok:
                return server
        except requests.ConnectionError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"mlops serve did not start: {server.stderr.read().decode()[-500:]}")
        time.sleep(0.1)


class Latencies:
    def __init__(self, seconds: list[float], failures: int, per_second: float) -> None:
        self.seconds = sorted(seconds)
        self.failures = failures
        self.per_second = per_second

    @property
    def p50(self) -> float:
        return self.seconds[len(self.seconds) // 2]

    @property
    def p99(self) -> float:
        return self.seconds[min(len(self.seconds) - 1, int(len(self.seconds) * 0.99))]

    def summary(self) -> str:
        return (
            f"{len(self.seconds)} answered, {self.failures} failed, {self.per_second:.0f}/s, "
            f"p50 {self.p50 * 1e3:.2f} ms, p99 {self.p99 * 1e3:.2f} ms"
        )


def load(port: int, method: str, path: str, body: bytes | None, headers: dict) -> Latencies:
    """Batch-1 requests from WORKERS threads, each on one kept-alive connection, until
    MAX_REQUESTS or MAX_SECONDS."""

    def worker() -> Callable[[], bool]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def send() -> bool:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status == 200

        return send

    return timed([worker() for _ in range(WORKERS)])


def timed(senders: list[Callable[[], bool]]) -> Latencies:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + MAX_SECONDS

    def run(send: Callable[[], bool]) -> None:
        nonlocal failures
        for _ in range(3):  # warm the connection and the server
            send()
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            ok = send()
            took = time.perf_counter() - start
            with lock:
                if len(latencies) + failures >= MAX_REQUESTS:
                    break
                if ok:
                    latencies.append(took)
                else:
                    failures += 1

    threads = [threading.Thread(target=run, args=(send,)) for send in senders]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Latencies(
        latencies, failures, (len(latencies) + failures) / (time.perf_counter() - began)
    )


def through_tritonclient(port: int, row, features) -> dict[str, Latencies]:
    """Triton's HTTP client, one per worker thread, as a Triton user would call mlops serve."""
    import tritonclient.http as triton

    def inputs(binary: bool) -> list:
        made = []
        for feature in features:
            numeric = feature.kind == "numeric"
            value = row[feature.name].iloc[0]
            if numeric:
                array = np.array([[value]], dtype=np.float64)
            else:
                array = np.array([["" if value != value else value]], dtype=object)
            tensor = triton.InferInput(feature.name, [1, 1], "FP64" if numeric else "BYTES")
            tensor.set_data_from_numpy(array, binary_data=binary)
            made.append(tensor)
        return made

    clients: list = []

    def sender(call: Callable) -> Callable[[], bool]:
        """A client made in the worker thread on its first call (gevent binds it there)."""
        made: list = []

        def send() -> bool:
            if not made:
                made.append(triton.InferenceServerClient(f"127.0.0.1:{port}"))
                clients.append(made[0])
            return call(made[0])

        return send

    def infer(prepared: list, outputs: list, client) -> bool:
        return client.infer(MODEL, prepared, outputs=outputs) is not None

    try:
        live = [sender(lambda client: client.is_server_live()) for _ in range(WORKERS)]
        measured = {"live": timed(live)}
        for form, binary in (("binary", True), ("JSON", False)):
            call = partial(
                infer,
                inputs(binary),
                [triton.InferRequestedOutput(o, binary_data=binary) for o in OUTPUTS],
            )
            measured[form] = timed([sender(call) for _ in range(WORKERS)])
        return measured
    finally:
        for client in clients:
            client.close()


if __name__ == "__main__":
    raise SystemExit(main())
