"""`mlops serve` under loopback load: batch-1 V2 infer requests from 2 client workers.

Prints p50/p99 latency and requests/s, and the server's overhead as the ratio of its
latency over calling onnxruntime directly in-process: ``OnnxModel.predict`` on a one-row
frame (what a Python caller would do) and a bare ``session.run`` on a prepared feed; and
over a health-check round trip under the same load, i.e. what HTTP and the client alone
cost. The client is ``http.client`` on the same machine, one kept-alive connection per worker.
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
from pathlib import Path

import requests
from harness import median_seconds, report

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "penguins"
WORKERS = 2
MAX_REQUESTS = 2000
MAX_SECONDS = 20.0


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
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
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops_actions",
                "serve",
                "--config",
                str(EXAMPLE / "mlops.yaml"),
                "--model",
                str(path),
                "--port",
                str(port),
                "--workdir",
                tmp,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"mlops serve did not start: {server.stderr.read().decode()[-500:]}"
                    )
                time.sleep(0.1)
            body = json.dumps(v2_request(row, model.features)).encode()
            latencies, failures, throughput = load(
                port, "POST", "/v2/models/penguins-species/infer", body
            )
            floor, _, _ = load(port, "GET", "/v2/health/live", None)
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"mlops serve, batch 1, {WORKERS} client workers: {len(latencies)} requests, {failures} failed, "
        f"{throughput:.0f} requests/s, p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms"
    )
    report("serve p50 latency, batch 1", p50, "OnnxModel.predict", direct)
    report("serve p99 latency, batch 1", p99, "OnnxModel.predict", direct)
    report(
        "serve p50 latency, batch 1",
        p50,
        "onnxruntime session.run on a prepared feed",
        session_only,
    )
    floor.sort()
    report(
        "serve p50 latency, batch 1",
        p50,
        "GET /v2/health/live round trip (HTTP alone)",
        floor[len(floor) // 2],
    )


def load(port: int, method: str, path: str, body: bytes | None) -> tuple[list[float], int, float]:
    """Send batch-1 requests from WORKERS threads until MAX_REQUESTS or MAX_SECONDS.

    Each worker keeps one connection (``http.client``: ``requests`` alone costs ~4 ms a call
    here, more than the server). Returns the latencies of the answered requests, the
    failures, and requests per second.
    """
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + MAX_SECONDS
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        nonlocal failures
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def send() -> bool:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status == 200

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
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures, (len(latencies) + failures) / (time.perf_counter() - began)


if __name__ == "__main__":
    main()
