"""What every local fake vendor server shares: a threaded HTTP server on 127.0.0.1.

A fake subclasses `ServedFake` (start/stop/base_url) and gives it a handler
class built on `KeepAliveHandler`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib's backlog of 5 refuses connections when dozens of senders
    # connect at once (the benchmark runs 64); a real API takes them all.
    request_queue_size = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def close_connections(self) -> None:
        with self.sockets_lock:
            for sock in self.open_sockets:
                with contextlib.suppress(OSError):  # already gone
                    sock.shutdown(socket.SHUT_RDWR)
            self.open_sockets.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is part of the tests, not news


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the vendors' APIs do
    timeout = 60  # close idle connections eventually
    server: FakeServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm
        # holds the body until the client's delayed ACK, ~40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # each fake keeps its own record of requests


class ServedFake:
    """Serve `self.handler_class()` on a free port in daemon threads."""

    _server: FakeServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[KeepAliveHandler]:
        raise NotImplementedError

    def start(self) -> str:
        """Start serving; return the base URL."""
        self._server = FakeServer(("127.0.0.1", 0), self.handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and drop open connections: later requests are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
