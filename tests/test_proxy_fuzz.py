"""Odd requests of every shape against a running proxy: a JSON error or a forward, a log line, never a crash.

Hypothesis makes the requests (paths, methods, headers, bodies: deep nesting, odd bytes and
encodings, odd JSON); each goes over its own connection to a proxy that runs in a thread of its
own. The answer must be a proxy error in OpenAI's JSON shape (4xx/5xx) or an upstream answer the
proxy relayed (it carries ``X-Ccendpoint-Request-Id``). Each failed or relayed request gets exactly
one log line (found by its id, or as the first line the request left), which never says ``ok`` for a
failure; each request carries a key that neither the answer nor any log line may hold.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy_helpers import running_proxy, vscode_request
from raw_http import exchange

REQUEST_ID = "x-ccendpoint-request-id"


@dataclass
class Served:
    port: int
    log: Path
    loop: asyncio.AbstractEventLoop
    server: Any  # the ProxyServer
    markers: int = 0

    def lines_since_last_request(self) -> list[bytes]:
        """The log lines the last request left, once it has left all of them.

        Waits until the proxy has closed every connection (so each line for it has been handed to
        the log), then writes a marker line after them: the lines between the previous marker and
        this one are the request's, however late they came.
        """
        self.markers += 1
        marker = self.markers
        asyncio.run_coroutine_threadsafe(self._mark(marker), self.loop).result(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = self.log.read_bytes().split(b"\n")[:-1] if self.log.exists() else []
            ends = [i for i, line in enumerate(lines) if line.startswith(b'{"marker":')]
            if ends and orjson.loads(lines[ends[-1]])["marker"] == marker:
                start = ends[-2] + 1 if len(ends) > 1 else 0
                return lines[start : ends[-1]]
            time.sleep(0.001)
        raise AssertionError("the log did not catch up")

    async def _mark(self, marker: int) -> None:
        deadline = self.loop.time() + 5
        while any(runner.server.connections for runner in self.server._runners if runner.server is not None):
            assert self.loop.time() < deadline, "a connection stayed open after the client closed it"
            await asyncio.sleep(0.001)
        self.server.log.emit({"marker": marker}, self.log)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The proxy (kimi) and a permissive upstream, on their own event loop in a thread."""
    log = tmp_path_factory.mktemp("fuzz") / "kimi.ndjson"
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.json_response({"id": "x", "object": "chat.completion", "choices": []})

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/chat/completions"
        stop = asyncio.Event()
        box["stop"], box["loop"] = stop, asyncio.get_running_loop()
        async with running_proxy("kimi", url, log=log, max_body_mb=2) as proxy:
            box["port"], box["server"] = proxy.port, proxy.server
            ready.set()
            await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(20), "the proxy did not start"
    yield Served(box["port"], log, box["loop"], box["server"])
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)


# -- the requests --------------------------------------------------------------------------------------

PATHS = st.sampled_from(
    [b"/v1/chat/completions", b"/chat/completions", b"/healthz", b"/v1/models", b"/", b"/v1/chat/completions/"]
) | st.binary(min_size=0, max_size=40).map(lambda b: b"/" + b.replace(b"\r", b"").replace(b"\n", b""))
METHODS = st.sampled_from([b"POST", b"POST", b"POST", b"GET", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"BREW", b""])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


def vscode_body(model: Any, messages: Any, extra: dict[str, Any]) -> bytes:
    body = vscode_request("kimi-k2.6", "follow_up", stream=False)
    body.update(extra)
    if model is not ...:
        body["model"] = model
    if messages is not ...:
        body["messages"] = messages
    return json.dumps(body).encode()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["vscode", "vscode", "json", "bytes", "nested", "encoded", "empty"]))
    if kind == "vscode":  # VS Code's body with an odd part
        model = draw(st.just(...) | st.just("kimi-k2.7-code") | JSON_VALUES)
        messages = draw(st.just(...) | JSON_VALUES | st.lists(JSON_VALUES, max_size=4))
        extra = draw(st.dictionaries(st.sampled_from(["stream", "tools", "tool_choice", "thinking", "n"]), JSON_VALUES))
        return vscode_body(model, messages, extra)
    if kind == "json":  # any JSON (NaN and Infinity included, as Python writes them)
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "nested":
        depth = draw(st.integers(min_value=1, max_value=3000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        inner = opener * depth + b"1" + closer * depth
        return b'{"model":"kimi-k2.6","messages":' + inner + b"}"
    if kind == "encoded":  # JSON in other encodings, with a BOM, or with lone surrogates
        text = json.dumps({"model": "kimi-k2.6", "messages": [{"role": "user", "content": "héllo ✓"}]})
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig", "surrogates"]))
        if encoding == "surrogates":
            return text.replace("héllo", "\\ud800x\\udfff").encode()
        return text.encode(encoding, "replace")
    return b""


HEADER_NAMES = st.sampled_from(
    [b"Content-Type", b"Authorization", b"Accept-Encoding", b"Connection", b"Expect", b"X-Request-Id", b"Te"]
) | st.binary(min_size=1, max_size=12)
HEADER_VALUES = st.sampled_from(
    [b"application/json", b"text/plain", b"Bearer sk-x", b"gzip", b"close", b"100-continue", b""]
) | st.binary(max_size=30)


#: Stand for the two halves of the key each request carries; the test puts a fresh random one there.
KEY_HEAD, KEY_TAIL = b"<key head>", b"<key tail>"
#: The key's line: well formed, or refused by the parser (which quotes the line it refuses).
KEY_LINES = st.sampled_from(
    [
        b"Authorization: Bearer sk-fuzz-" + KEY_HEAD + KEY_TAIL,
        b"Authorization: Bearer sk-fuzz-" + KEY_HEAD + KEY_TAIL,
        b"Authorization: Bearer sk-fuzz-" + KEY_HEAD + b"\x01" + KEY_TAIL,
        b"Bearer sk-fuzz-" + KEY_HEAD + KEY_TAIL,
    ]
)


@dataclass
class Case:
    raw: bytes
    method: bytes
    #: Bytes after the body (a Content-Length 3 short): a second request on the connection, which
    #: the proxy may answer and log as one more failure.
    leftover: bool


@st.composite
def requests(draw: st.DrawFn) -> Case:
    method, path, body = draw(METHODS), draw(PATHS), draw(bodies())
    headers = [b"Host: 127.0.0.1"]
    for name, value in draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4)):
        headers.append(name.replace(b"\r", b"").replace(b"\n", b"") + b": " + value.replace(b"\n", b""))
    headers.insert(draw(st.integers(min_value=1, max_value=len(headers))), draw(KEY_LINES))
    framing = draw(st.sampled_from(["length", "length", "chunked", "none", "wrong length"]))
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        size = draw(st.integers(min_value=1, max_value=64))
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    elif framing == "wrong length":
        headers.append(b"Content-Length: %d" % max(0, len(body) - 3))
        payload = body
    else:
        payload = b""
    raw = method + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + payload
    return Case(raw, method, leftover=framing == "wrong length" and bool(body))


@given(requests())
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_odd_requests_get_a_json_error_or_a_forward_never_a_crash(served: Served, case: Case) -> None:
    key = secrets.token_hex(12)
    raw = case.raw.replace(KEY_HEAD, key[:12].encode()).replace(KEY_TAIL, key[12:].encode())
    status, headers, body = exchange(served.port, raw)
    relayed = REQUEST_ID in headers
    if not relayed:
        assert status < 400 or headers.get("content-type", "").startswith("application/json"), (status, body[:200])
        if status >= 400 and case.method != b"HEAD":
            error = orjson.loads(body)["error"]
            assert isinstance(error["message"], str) and error["message"], body
    raw_lines = served.lines_since_last_request()
    for piece in (key, key[:12], key[12:]):
        assert piece.encode() not in body, body
        assert not [line for line in raw_lines if piece.encode() in line], raw_lines
    lines = [orjson.loads(line) for line in raw_lines]
    seen = [(line.get("status"), line.get("outcome"), line.get("path")) for line in lines]
    for line in lines:
        failed = isinstance(line.get("status"), int) and line["status"] >= 400
        assert not (failed and line["outcome"] == "ok"), line

    # the request's own line comes first: exactly one for a failure or a forward, none for /healthz or /v1/models
    if relayed:
        assert lines and lines[0]["id"] == headers[REQUEST_ID], (headers[REQUEST_ID], seen)
    elif status >= 400:
        assert lines and lines[0]["status"] == status, (status, seen)
    own = lines[:1] if relayed or status >= 400 else []
    rest = seen[len(own) :]
    # one more line only for the bytes left after a short Content-Length: a second request on the
    # connection, refused as not HTTP (unless the first was, which closes the connection)
    if rest:
        refused_unparsed = bool(own) and own[0]["outcome"] == "bad_request" and not own[0]["path"]
        assert case.leftover and not refused_unparsed, (status, seen)
        assert len(rest) == 1 and rest[0][1:] == ("bad_request", ""), (status, seen)
