"""Strict local fakes for the catalog commands: a provider's ``GET /models`` and a bundle host.

Both run a plain threading HTTP server on 127.0.0.1 (the command under test runs its own event
loop), record every request, and answer the way real servers do: OpenAI-shaped 401s for a wrong
key, 404 for unknown paths, redirects, and a connection cut half-way through a body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None  # send the full Content-Length, then only this many bytes
    needs_key: str | None = None  # Bearer key the route insists on


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class FakeServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(404, b'{"error": {"message": "Not found", "type": "not_found"}}', {})
                    return
                if route.needs_key is not None and self.headers.get("Authorization") != f"Bearer {route.needs_key}":
                    error = {"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}}
                    self._send(401, json.dumps(error).encode(), {})
                    return
                self._send(route.status, route.body, route.headers, route.cut_after)

            def _send(self, status: int, body: bytes, headers: dict[str, str], cut: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def models(self, ids: list[str], key: str, path: str = "/v1/models") -> None:
        data = {"object": "list", "data": [{"id": i, "object": "model", "owned_by": "fake"} for i in ids]}
        self.routes[path] = Route(body=json.dumps(data).encode(), needs_key=key)

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer().start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
