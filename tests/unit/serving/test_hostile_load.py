"""``mlops serve`` against hostile clients (issue 14 part 6), over real sockets on 127.0.0.1:
bodies cut off at the limit while they arrive, chunked or not; half-sent heads and stalled
bodies closed after their timeout; a connection limit; liveness answered while a big body is
parsed; 400 for nesting and non-finite numbers; no exception text in a 500."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from mlops_actions.serving.inference_log import InferenceLog
from mlops_actions.serving.limits import Limits
from mlops_actions.serving.server import ModelServer, create_app
from support import SRC
from support.models import FEATURE_NAMES, make_model, running, write_config

QUICK = Limits(
    max_body_bytes=256 << 10,
    max_header_bytes=8 << 10,
    header_timeout=0.5,
    body_timeout=0.5,
    max_connections=20,
)
INFER = "/v2/models/flowers/infer"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model"))


def _server(tmp_path, model, **options) -> ModelServer:
    return ModelServer("flowers", model_path=model, cache_dir=tmp_path / "cache", **options)


@pytest.fixture
def quick(tmp_path, model):
    """A server with small limits and short timeouts; yields (host, port)."""
    with running(create_app(_server(tmp_path, model), QUICK), QUICK) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _connect(address) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    sock.settimeout(10)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response (read until the server closes or the body ends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed: reads hit EOF (or a reset) within the socket timeout."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def _request(rows: int = 1, number: float = 1.5) -> bytes:
    inputs = [
        {
            "name": name,
            "datatype": "BYTES" if name == "colour" else "FP64",
            "shape": [rows],
            "data": ["red"] * rows if name == "colour" else [number] * rows,
        }
        for name in FEATURE_NAMES
    ]
    return json.dumps({"inputs": inputs}).encode()


def test_a_chunked_body_is_refused_at_the_limit_while_it_arrives(quick):
    sock = _connect(quick)
    sock.sendall(
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b"[" * (64 << 10)
    for _ in range(5):  # 320 KiB, over the 256 KiB limit; the final chunk never comes
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    status, headers, body = _response(sock)
    assert status == 413 and "over the 262144 byte limit" in json.loads(body)["error"]
    assert headers["connection"] == "close" and _closed(sock)


def test_a_declared_length_over_the_limit_is_refused_before_the_body(quick):
    sock = _connect(quick)
    sock.sendall(f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 30}\r\n\r\n".encode())
    status, _, body = _response(sock)
    assert status == 413 and "1073741824 bytes" in json.loads(body)["error"]


def test_half_sent_heads_and_silent_connections_are_closed_after_the_header_timeout(quick):
    silent = [_connect(quick) for _ in range(5)]
    half = [_connect(quick) for _ in range(10)]
    for sock in half:
        sock.sendall(f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-".encode())
    started = time.monotonic()
    for sock in half:
        status, _, body = _response(sock)  # the socket timeout (10 s) fails this if never closed
        assert status == 408 and "request head did not arrive" in json.loads(body)["error"]
        assert _closed(sock)
    for sock in silent:
        assert sock.recv(1) == b""  # closed without a word
    assert time.monotonic() - started < 9


def test_a_kept_alive_connection_is_held_to_the_header_timeout_on_its_next_request(quick):
    sock = _connect(quick)
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _response(sock)[0] == 200
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
    assert _response(sock)[0] == 408


def test_a_stalled_body_is_cut_off_after_the_body_timeout(quick):
    sock = _connect(quick)
    sock.sendall(
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"inputs": ['.encode()
    )
    status, headers, body = _response(sock)
    assert status == 408 and "did not arrive within 0.5 s" in json.loads(body)["error"]
    assert headers["connection"] == "close" and _closed(sock)


def test_an_oversized_head_is_refused(quick):
    sock = _connect(quick)
    sock.sendall(f"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * (16 << 10)}".encode())
    status, _, body = _response(sock)
    assert status == 431 and "head is over 8192 bytes" in json.loads(body)["error"]


def test_connections_past_the_limit_get_503_until_they_close(tmp_path, model):
    limits = Limits(max_connections=4, header_timeout=30)
    with running(create_app(_server(tmp_path, model), limits), limits) as url:
        host, port = url.removeprefix("http://").split(":")
        held = [_connect((host, int(port))) for _ in range(4)]
        time.sleep(0.2)  # let the server accept them
        refused = requests.get(f"{url}/v2/health/live", timeout=10)
        assert refused.status_code == 503
        for sock in held:
            sock.close()
        deadline = time.monotonic() + 10
        while requests.get(f"{url}/v2/health/live", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover from its limit"
            time.sleep(0.05)


def test_liveness_answers_while_a_big_body_is_parsed(tmp_path, model):
    """A ~24 MB JSON body takes the parser a second or more. Liveness probes sent one after
    another for as long as the big request runs must each answer in a fraction of its time
    (parsed in a thread, one probe waited for the whole parse: json.loads holds the GIL)."""
    with running(create_app(_server(tmp_path, model))) as url:
        host, port = url.removeprefix("http://").split(":")
        warm = requests.post(f"{url}{INFER}", data=_request(rows=60_000), timeout=120)
        assert warm.status_code == 413  # parsed aside (the worker process starts here)
        big = _request(rows=2_000_000, number=2)  # no floats: json.loads runs in C throughout
        assert len(big) > 20 << 20
        answered: list[tuple[int, dict[str, str], bytes]] = []

        def send_big() -> None:
            sock = _connect((host, int(port)))
            sock.settimeout(120)
            sock.sendall(
                f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(big)}\r\n\r\n".encode()
                + big
            )
            answered.append(_response(sock))

        probes: list[float] = []
        with requests.Session() as session:
            session.get(f"{url}/v2/health/live", timeout=10)
            sender = threading.Thread(target=send_big)
            started = time.monotonic()
            sender.start()
            while sender.is_alive():
                sent = time.monotonic()
                assert session.get(f"{url}/v2/health/live", timeout=120).json() == {"live": True}
                probes.append(time.monotonic() - sent)
            big_took = time.monotonic() - started
    status, _, body = answered[0]
    assert status == 413 and "2000000 rows is more than" in json.loads(body)["error"]
    assert len(probes) > 3 and max(probes) < big_took / 3, (
        f"slowest of {len(probes)} liveness probes {max(probes):.2f} s, big request {big_took:.2f} s"
    )


NESTED = "[" * 100_000 + "]" * 100_000


def _infer_body(**replace) -> str:
    body = json.loads(_request())
    for where, value in replace.items():
        if where == "id":
            body["id"] = value
        elif where == "parameter":
            body["parameters"] = {"x": value}
        else:
            body["inputs"][0][where] = value
    return json.dumps(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (NESTED, "nested too deeply"),
        (_infer_body(data=[1.5]).replace("1.5", "NaN"), "NaN is not a JSON number"),
        (_infer_body(data=[1.5]).replace("1.5", "Infinity"), "Infinity is not a JSON number"),
        (_infer_body(data=[1.5]).replace("1.5", "-Infinity"), "-Infinity is not a JSON number"),
        (_infer_body(data=[1.5]).replace("1.5", "1e999"), "1e999 is beyond the float64 range"),
        (_infer_body(data=[1.5]).replace("1.5", "-" + "9" * 400 + ".0"), "beyond the float64"),
        (_infer_body(parameter=1.5).replace("1.5", "1e999"), "beyond the float64 range"),
        (_infer_body(id="[" * 900 + "]" * 900).replace('"[', "[").replace(']"', "]"), "'id'"),
        (_infer_body(name=[[[[["length"]]]]]), "unknown input [[[[...]]]]"),
        (_infer_body(datatype={"a": [1]}), "datatype {'a': [1]} does not fit"),
        (_infer_body(datatype=["FP64"]), "datatype ['FP64'] does not fit"),
        (_infer_body(data=["x" * 10_000]), "'xxxxxxxxxx"),
    ],
    ids=[
        "nesting",
        "nan",
        "infinity",
        "minus-infinity",
        "1e999",
        "400-digits",
        "1e999-parameter",
        "nested-id",
        "list-name",
        "dict-datatype",
        "list-datatype",
        "long-value",
    ],
)
def test_hostile_json_is_a_400_with_a_short_message(quick, body, message):
    host, port = quick
    answer = requests.post(
        f"http://{host}:{port}{INFER}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text[:300]
    error = answer.json()["error"]
    assert message in error and len(error) < 400


def test_a_server_failure_is_a_500_with_a_request_id_and_no_exception_text(tmp_path, model, caplog):
    log_dir = tmp_path / "inference-log"
    server = _server(tmp_path, model, inference_log=InferenceLog(log_dir))
    shutil.rmtree(log_dir)  # the log cannot be written: a failure of the server, not the client
    with running(create_app(server)) as url, caplog.at_level(logging.ERROR, "mlops.serve"):
        answer = requests.post(f"{url}{INFER}", data=_request(), timeout=30)
    assert answer.status_code == 500
    error = answer.json()["error"]
    request_id = answer.headers["X-Request-Id"]
    assert error == f"internal error, request id {request_id} (the server log has the details)"
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info[0] is FileNotFoundError  # the details: in the log only


def test_mlops_serve_takes_the_limits_and_parses_big_bodies_aside(tmp_path, model):
    """The flags reach the server, and the worker process that parses big bodies starts
    under ``python -m mlops_actions`` as under pytest."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mlops_actions", "serve", "--config"]
    command += [str(write_config(tmp_path / "project")), "--model", str(model)]
    command += ["--port", str(port), "--max-body-bytes", "3000000", "--header-timeout", "0.5"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "mlops serve did not start"
            try:
                if requests.get(f"{url}/v2/health/ready", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        over = requests.post(f"{url}{INFER}", data=b" " * 3_000_001, timeout=30)
        assert over.status_code == 413 and "3000000 byte limit" in over.json()["error"]
        big = requests.post(f"{url}{INFER}", data=_request(rows=50_000), timeout=120)
        assert big.status_code == 413 and "50000 rows is more than" in big.json()["error"]
        sock = _connect(("127.0.0.1", port))
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
        assert _response(sock)[0] == 408
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_concurrent_small_requests_still_pass_under_the_limits(quick):
    host, port = quick
    answers: list[int] = []

    def client() -> None:
        with requests.Session() as session:
            for _ in range(5):
                url = f"http://{host}:{port}{INFER}"
                answers.append(session.post(url, data=_request(), timeout=30).status_code)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 40
