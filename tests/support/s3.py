"""A real S3 API for tests: moto's server on 127.0.0.1, reached over HTTP by s3fs and boto3,
with a log of the requests it served (method, path, Range) so a test can prove what was read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class OneRequestAtATime:
    """WSGI wrapper: moto's backend is not thread-safe (a GET racing a PUT of the same key can
    read a closed buffer, and its conditional checks are not atomic with the write), while S3
    applies each request atomically. Serving one request at a time gives S3's semantics."""

    def __init__(self, app, log: list[tuple[str, str, str | None]]) -> None:
        self.app, self.lock, self.log = app, threading.Lock(), log

    def __call__(self, environ, start_response):
        with self.lock:
            self.log.append(
                (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE"))
            )
            return [b"".join(self.app(environ, start_response))]


@dataclass
class S3Server:
    url: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header) of every request served, in order."""


@contextmanager
def moto_server() -> Iterator[S3Server]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Quiet(MotoRequestHandler):
        def log_request(self, *args) -> None:
            pass

    log: list[tuple[str, str, str | None]] = []
    app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app), log)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield S3Server(f"http://127.0.0.1:{server.server_port}", log)
    finally:
        server.shutdown()
        thread.join()
