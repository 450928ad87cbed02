"""What one client may take from ``mlops serve``: body size, time to send a request, connections.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) and refuses requests
past a connection count (``limit_concurrency``, a plain-text 503), but has no limit on the time
or bytes a client may spend sending a request head: 200 half-sent requests held their
connections for ever. ``guarded_protocol`` adds both to uvicorn's httptools protocol, and a
deadline for the body, armed only when a body does not come with its head (a timer per
request would cost the small ones that arrive whole). Its size is counted where the app reads it.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # the CLI imports this module for its defaults: no typing, no dataclasses
if TYPE_CHECKING:
    import asyncio
    from typing import Any

    import uvicorn


class Limits:
    """What one client may take. The defaults suit a server reached directly; behind a proxy
    keep them at least as wide as the proxy's own (docs/deploy.md)."""

    __slots__ = (
        "max_body_bytes",
        "max_header_bytes",
        "header_timeout",
        "body_timeout",
        "keep_alive_timeout",
        "max_connections",
    )

    def __init__(
        self,
        *,
        max_body_bytes: int = 64 << 20,
        max_header_bytes: int = 64 << 10,
        header_timeout: float = 10.0,
        body_timeout: float = 60.0,
        keep_alive_timeout: float = 5.0,
        max_connections: int = 200,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        """Largest request body, counted while it arrives (compressed, and again inflated)."""
        self.max_header_bytes = max_header_bytes
        """Largest request head (request line and headers)."""
        self.header_timeout = header_timeout
        """Seconds from a request's first byte (or the connection's opening) to its full head."""
        self.body_timeout = body_timeout
        """Seconds for a request body to arrive in full after its head."""
        self.keep_alive_timeout = keep_alive_timeout
        """Seconds an idle kept-alive connection stays open."""
        self.max_connections = max_connections
        """Open connections (and requests in progress) past which requests get 503."""


DEFAULT_LIMITS = Limits()


def refusal(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP response closing the connection, for refusals made before the app runs."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(limits: Limits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with deadlines on each request's head and body, and a size
    cap on the head."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class Guarded(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer: asyncio.TimerHandle | None = None
            self._head_bytes = 0
            self._head_started = False
            self._body_timer: asyncio.TimerHandle | None = None

        def _await_head(self) -> None:
            if self._head_timer is None:
                self._head_bytes = 0
                self._head_timer = self.loop.call_later(limits.header_timeout, self._head_late)

        def _head_done(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self._head_started:  # a connection that never sent a byte is closed silently
                message = f"the request head did not arrive within {limits.header_timeout:g} s"
                self.transport.write(refusal(408, "Request Timeout", message))
            self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_head()

        def _body_late(self) -> None:
            self._body_timer = None
            cycle = self.cycle
            if self.transport.is_closing() or cycle is None or not cycle.more_body:
                return
            if not cycle.response_started:
                message = f"the body did not arrive within {limits.body_timeout:g} s"
                self.transport.write(refusal(408, "Request Timeout", message))
            cycle.disconnected = True  # the app's receive says so; its answer goes nowhere
            cycle.message_event.set()
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_done()
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            pending = self._head_timer is not None
            if pending:
                self._head_started = True
                self._head_bytes += len(data)
            super().data_received(data)
            cycle = self.cycle
            if (
                self._body_timer is None
                and cycle is not None
                and cycle.more_body
                and not cycle.response_complete
                and self._head_timer is None
            ):
                self._body_timer = self.loop.call_later(limits.body_timeout, self._body_late)
            if (
                pending
                and self._head_timer is not None
                and self._head_bytes > limits.max_header_bytes
                and not self.transport.is_closing()
            ):
                self._head_done()
                message = f"the request head is over {limits.max_header_bytes} bytes"
                self.transport.write(refusal(431, "Request Header Fields Too Large", message))
                self.transport.close()

        def on_message_begin(self) -> None:  # a request's first byte, also on a kept-alive one
            super().on_message_begin()
            self._head_started = True
            self._await_head()

        def on_headers_complete(self) -> None:
            self._head_done()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            super().on_message_complete()

    return Guarded


def uvicorn_config(app: Any, limits: Limits, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration ``mlops serve`` runs with (the tests run the same)."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=guarded_protocol(limits),
        timeout_keep_alive=limits.keep_alive_timeout,
        limit_concurrency=limits.max_connections,
        proxy_headers=False,  # nothing is decided on the client's address: see docs/deploy.md
        log_level="warning",
        access_log=False,
        **options,
    )
