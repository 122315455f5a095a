"""A Redis that hangs on demand: a TCP proxy on 127.0.0.1 in front of the real Redis.

Forwarding, it is the real Redis. Hanging, it takes connections and commands
and never answers, as a Redis under ``CLIENT PAUSE`` or behind a dead network
path does (``CLIENT PAUSE`` itself would pause every test's Redis). It counts
the connections it accepted and the bytes it was sent, so a test can tell
whether a client tried at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit


class HangingRedis:
    def __init__(self, upstream_url: str, *, hanging: bool = True) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = parts.path.lstrip("/") or "0"
        self.hanging = hanging
        self.connections = 0
        self.bytes_received = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def close(self) -> None:
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections += 1
                self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            while data := client.recv(65536):
                with self._lock:
                    self.bytes_received += len(data)
                if self.hanging:
                    continue  # swallowed: the client waits for an answer that never comes
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                    upstream.settimeout(None)
                    with self._lock:
                        self._sockets.append(upstream)
                    threading.Thread(
                        target=self._pump, args=(upstream, client), daemon=True
                    ).start()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
