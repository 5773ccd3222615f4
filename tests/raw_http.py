"""A raw HTTP/1.1 exchange over a socket, for requests no HTTP client library would send."""

from __future__ import annotations

import contextlib
import socket


class NoAnswer(AssertionError):
    """The server closed the connection (or went silent) without an HTTP answer."""


def exchange(port: int, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is to 127.0.0.1:``port``; (status, headers with lower-case names, body).

    Interim answers (``100 Continue`` to an ``Expect`` header) are skipped: the final answer counts.
    """
    head_only = request.startswith(b"HEAD ")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # the server may answer and close before it has read everything
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        data = b""
        try:
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                data = _final(data + piece)
                if _complete(data, head_only):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise NoAnswer(f"no HTTP answer: {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        body = _unchunk(body)
    return status, headers, body


def _final(data: bytes) -> bytes:
    """``data`` without the interim (1xx) answers it starts with."""
    while data.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in data:
        data = data.partition(b"\r\n\r\n")[2]
    return data


def _complete(data: bytes, head_only: bool) -> bool:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    if head_only or head.split(b" ", 2)[1] in (b"204", b"304"):
        return True
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return body.endswith(b"0\r\n\r\n")
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False  # until the server closes


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out
