"""Odd requests of every shape against a running proxy: a JSON error or a forward, a log line, never a crash.

Hypothesis makes the requests (paths, methods, headers, bodies: deep nesting, odd bytes and
encodings, odd JSON); each goes over its own connection to a proxy that runs in a thread of its
own. The answer must be a proxy error in OpenAI's JSON shape (4xx/5xx) or an upstream answer the
proxy relayed (it carries ``X-Ccendpoint-Request-Id``); whenever the log gets a line for it, a
failed request's line never says ``ok``.
"""

from __future__ import annotations

import asyncio
import json
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
            box["port"] = proxy.port
            ready.set()
            await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(20), "the proxy did not start"
    yield Served(box["port"], log)
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


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    """(raw request, method, path)."""
    method, path, body = draw(METHODS), draw(PATHS), draw(bodies())
    headers = [b"Host: 127.0.0.1"]
    for name, value in draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4)):
        headers.append(name.replace(b"\r", b"").replace(b"\n", b"") + b": " + value.replace(b"\n", b""))
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
    return raw, method, path


def log_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]  # whole lines only


@given(requests())
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_odd_requests_get_a_json_error_or_a_forward_never_a_crash(
    served: Served, case: tuple[bytes, bytes, bytes]
) -> None:
    raw, method, _ = case
    before = len(log_lines(served.log))
    status, headers, body = exchange(served.port, raw)
    relayed = REQUEST_ID in headers
    if not relayed:
        assert status < 400 or headers.get("content-type", "").startswith("application/json"), (status, body[:200])
        if status >= 400 and method != b"HEAD":
            error = orjson.loads(body)["error"]
            assert isinstance(error["message"], str) and error["message"], body
    if status < 400 and not relayed:
        return  # /healthz or /v1/models answered: nothing to log
    deadline = time.monotonic() + 3
    while len(lines := log_lines(served.log)) <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    new = lines[before:]
    assert new, "a failed or forwarded request leaves a log line"
    for line in new:
        failed = isinstance(line.get("status"), int) and line["status"] >= 400
        assert not (failed and line["outcome"] == "ok"), line
