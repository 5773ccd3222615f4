"""The proxy in front of each fake provider: rewriting, forwarding, routes and errors."""

from __future__ import annotations

import asyncio
import errno
import gzip
import re
import socket
from dataclasses import replace
from typing import Any

import aiohttp
import aiohttp.connector
import aiohttp.resolver
import orjson
import pytest
from aiohttp.abc import AbstractResolver

from ccendpoint.errors import CcendpointError
from ccendpoint.proxy.binding import bind_error
from ccendpoint.proxy.settings import ListenerSettings, ProxyOptions, resolve
from ccendpoint.proxy.upstream import BoundedResolver
from fake_upstreams import Behaviour, FakeUpstream, free_port
from proxy_helpers import VSCODE_HEADERS, provider, running_proxy, vscode_request

KEY = "sk-test-not-a-real-key-000000000000"


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, aiohttp.ClientResponse]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers or VSCODE_HEADERS) as response,
    ):
        raw = await response.read()
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = raw
        return response.status, parsed, response


# -- each provider: what VS Code sends is rejected directly and accepted through the proxy ----------

# provider, VS Code request, what the fake provider says when the request goes there directly
#: What VS Code sends for an entry without modelOptions (written by hand, or by an old version)
NO_MODEL_OPTIONS = {"temperature": 0.1, "top_p": 1}
REJECTED_DIRECT: list[tuple[str, dict[str, Any], str]] = [
    (
        "kimi",
        vscode_request("kimi-k2.6", "chat", stream=False, **NO_MODEL_OPTIONS),
        "invalid temperature: only 1 is allowed",
    ),
    (
        "kimi",
        vscode_request("kimi-k2.6", "follow_up", stream=False, **NO_MODEL_OPTIONS),
        "invalid temperature: only 1 is allowed",
    ),
    (
        "kimi",
        vscode_request("kimi-k2.6", "follow_up", stream=False, temperature=1, top_p=0.95),
        "thinking is enabled but reasoning_content is missing in assistant tool call message",
    ),
    (
        "kimi",
        vscode_request(
            "kimi-k2.7-code", "first", stream=False, temperature=1, top_p=0.95, thinking={"type": "disabled"}
        ),
        "invalid thinking: only type=enabled is allowed for this model",
    ),
    (
        "kimi",
        vscode_request("kimi-k3", "chat", stream=False, temperature=1, top_p=0.95, thinking={"type": "enabled"}),
        "unsupported parameter: thinking",
    ),
    ("kimi", vscode_request("kimi-k3", "chat", stream=False, top_p=1), "invalid top_p: only 0.95 is allowed"),
    (
        "kimi",
        vscode_request("kimi-k3", "follow_up", stream=False, echo="Read the README first."),
        "unknown field 'cot_id'",
    ),
    ("mimo", vscode_request("mimo-v2.6-pro", "follow_up", stream=False), "reasoning_content is required"),
    ("mimo", vscode_request("mimo-v2-flash", "follow_up", stream=False, thinking={"type": "enabled"}), "reasoning"),
    ("qwen", vscode_request("qwen3.8-max", "follow_up", stream=False), "reasoning_content is missing"),
    ("deepseek", vscode_request("deepseek-v4-pro", "follow_up", stream=False), "Missing `reasoning_content`"),
    (
        "glm",
        vscode_request("glm-5.1", "follow_up", stream=False, clear_thinking=False),
        "reasoning_content of historical assistant messages is required",
    ),
]


@pytest.mark.parametrize(
    ("provider_id", "body", "direct_error"),
    REJECTED_DIRECT,
    ids=[f"{p}-{b['model']}-{i}" for i, (p, b, _) in enumerate(REJECTED_DIRECT)],
)
async def test_provider_rejects_vscode_request_directly_but_accepts_it_through_the_proxy(
    provider_id: str, body: dict[str, Any], direct_error: str
) -> None:
    async with FakeUpstream(provider_id) as upstream, running_proxy(provider_id, upstream.url) as proxy:
        status, answer, _ = await post(upstream.url, body)
        assert status == 400 and direct_error in answer["error"]["message"]

        status, answer, _ = await post(proxy.url, body)
        assert status == 200, answer
        assert upstream.last.status == 200
        assert answer["choices"][0]["message"]["role"] == "assistant"


@pytest.mark.parametrize(
    ("model", "turn", "echo"),
    [
        ("kimi-k2.6", "chat", None),
        ("kimi-k2.6", "first", None),
        ("kimi-k2.6", "follow_up", None),
        ("kimi-k2.6", "follow_up", "Read the README first."),
        ("kimi-k2.7-code", "follow_up", "Read the README first."),
        ("kimi-k3", "follow_up", "Read the README first."),
    ],
)
async def test_kimi_accepts_every_vscode_turn_through_the_proxy(model: str, turn: str, echo: str | None) -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        status, answer, _ = await post(proxy.url, vscode_request(model, turn, stream=False, echo=echo))
        assert status == 200, answer
        sent = upstream.last.body
        assert sent["top_p"] == 0.95
        if turn == "follow_up" and echo is None:  # reasoning lost and not in the cache
            assert sent["thinking"] == {"type": "disabled"} and sent["temperature"] == 0.6
        else:
            assert "thinking" not in sent and sent["temperature"] == 1
        if echo is not None:
            assert sent["messages"][-2]["reasoning_content"] == echo


async def test_an_always_thinking_model_without_its_reasoning_is_refused_even_through_the_proxy() -> None:
    """The limit of replay: K3 cannot think less, so a history the proxy cannot repair fails upstream."""
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        status, answer, _ = await post(proxy.url, vscode_request("kimi-k3", "follow_up", stream=False))
        assert status == 400 and "reasoning_content is missing" in answer["error"]["message"]


async def test_mimo_keeps_thinking_on_while_the_history_has_its_reasoning() -> None:
    async with FakeUpstream("mimo") as upstream, running_proxy("mimo", upstream.url) as proxy:
        body = vscode_request("mimo-v2.6-pro", "follow_up", stream=False, reasoning="Read the README first.")
        status, answer, _ = await post(proxy.url, body)
        assert status == 200
        assert "thinking" not in upstream.last.body  # API default: thinking on
        assert answer["choices"][0]["message"]["reasoning_content"]


async def test_qwen_keeps_the_model_default_until_reasoning_is_lost() -> None:
    async with FakeUpstream("qwen") as upstream, running_proxy("qwen", upstream.url) as proxy:
        status, _, _ = await post(proxy.url, vscode_request("qwen3.8-max", "chat", stream=False))
        assert status == 200 and "enable_thinking" not in upstream.last.body
        status, _, _ = await post(proxy.url, vscode_request("qwen3.8-max", "first", stream=False))
        assert status == 200 and "enable_thinking" not in upstream.last.body  # nothing to lose yet
        status, _, _ = await post(proxy.url, vscode_request("qwen3.8-max", "follow_up", stream=False))
        assert status == 200 and upstream.last.body["enable_thinking"] is False  # reasoning lost


async def test_minimax_gets_reasoning_split_so_the_reply_has_no_think_tags() -> None:
    behaviour = Behaviour(reasoning_in_content=True)
    async with FakeUpstream("minimax", behaviour) as upstream, running_proxy("minimax", upstream.url) as proxy:
        body = vscode_request("MiniMax-M3", "chat", stream=False)
        _, direct, _ = await post(upstream.url, body)
        assert "<think>" in direct["choices"][0]["message"]["content"]

        status, answer, _ = await post(proxy.url, body)
        assert status == 200
        sent = upstream.last.body
        assert sent["reasoning_split"] is True and sent["thinking"] == {"type": "adaptive"}
        assert (sent["temperature"], sent["top_p"]) == (1, 0.95)
        assert "<think>" not in answer["choices"][0]["message"]["content"]


async def test_nemotron_gets_chat_template_kwargs() -> None:
    async with FakeUpstream("nemotron") as upstream, running_proxy("nemotron", upstream.url) as proxy:
        model = "nvidia/nemotron-3-super-120b-a12b"
        _, direct, _ = await post(upstream.url, vscode_request(model, "first", stream=False))
        assert "reasoning_content" not in direct["choices"][0]["message"]

        status, answer, _ = await post(proxy.url, vscode_request(model, "first", stream=False))
        assert status == 200
        assert upstream.last.body["chat_template_kwargs"] == {"enable_thinking": True, "force_nonempty_content": True}
        assert answer["choices"][0]["message"]["reasoning_content"]


async def test_glm_gets_thinking_and_sampling_within_limits() -> None:
    async with FakeUpstream("glm") as upstream, running_proxy("glm", upstream.url) as proxy:
        status, _, _ = await post(proxy.url, vscode_request("glm-5.3", "follow_up", stream=False, temperature=1.5))
        assert status == 200
        sent = upstream.last.body
        assert sent["thinking"] == {"type": "enabled"} and sent["temperature"] == 1 and sent["top_p"] == 0.95


async def test_unknown_model_uses_the_default_rules() -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        status, _, _ = await post(proxy.url, vscode_request("kimi-k2.6-preview-x", "chat", stream=False))
        assert status == 200
        assert upstream.last.body["temperature"] == 1 and upstream.last.body["model"] == "kimi-k2.6-preview-x"


# -- forwarding ------------------------------------------------------------------------------------


async def test_headers_forwarded_without_hop_by_hop_ones() -> None:
    headers = {
        **VSCODE_HEADERS,
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "only for this connection",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic dXNlcjpwYXNz",
        "TE": "trailers",
        "X-Custom": "kept",
    }
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url) as proxy:
        status, _, response = await post(proxy.url, vscode_request("deepseek-v4-pro", "chat", stream=False), headers)
        assert status == 200
        got = {k.lower(): v for k, v in upstream.last.headers.items()}
        assert got["authorization"] == f"Bearer {KEY}"
        assert got["x-custom"] == "kept" and got["user-agent"] == VSCODE_HEADERS["User-Agent"]
        assert got["content-type"] == "application/json"
        assert got["host"] == f"127.0.0.1:{upstream.port}"
        assert int(got["content-length"]) == len(upstream.last.raw)
        for hop in ("x-hop", "keep-alive", "proxy-authorization", "te"):
            assert hop not in got
        assert response.headers["X-Request-Id"].startswith("req-up-")  # upstream headers come back
        assert response.headers["X-Ccendpoint-Request-Id"]


async def test_a_body_without_changes_is_forwarded_byte_for_byte() -> None:
    raw = b'{"model": "deepseek-v4-pro",  "messages": [{"role": "user", "content": "caf\\u00e9"}], "stream": false}'
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url) as proxy:
        status, _, _ = await post(proxy.url, raw)
        assert status == 200
        assert upstream.last.raw == raw


async def test_lone_surrogates_from_javascript_clients_are_accepted() -> None:
    raw = b'{"model": "kimi-k2.6", "messages": [{"role": "user", "content": "half \\ud83d emoji"}], "temperature": 0.1}'
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        status, answer, _ = await post(proxy.url, raw)
        assert status == 400  # the fake's JSON reader refuses it too, but the proxy forwarded it
        assert b"\\ud83d" in upstream.last.raw and b'"temperature":1' in upstream.last.raw
        assert answer["error"]["message"] == "Invalid request body format"


async def test_compressed_answer_keeps_its_content_encoding() -> None:
    async with (
        FakeUpstream("deepseek", Behaviour(gzip=True)) as upstream,
        running_proxy("deepseek", upstream.url) as proxy,
    ):
        body = orjson.dumps(vscode_request("deepseek-v4-pro", "chat", stream=False))
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            headers = {**VSCODE_HEADERS, "Accept-Encoding": "gzip"}
            async with session.post(proxy.url, data=body, headers=headers) as response:
                raw = await response.read()
                assert response.headers["Content-Encoding"] == "gzip"
                assert int(response.headers["Content-Length"]) == len(raw)
        assert orjson.loads(gzip.decompress(raw))["object"] == "chat.completion"
        assert upstream.last.headers["Accept-Encoding"] == "gzip"


async def test_no_accept_encoding_from_the_client_asks_upstream_for_identity() -> None:
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url) as proxy:
        body = orjson.dumps(vscode_request("deepseek-v4-pro", "chat", stream=False))
        async with (
            aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as session,
            session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response,
        ):
            assert response.status == 200
        assert upstream.last.headers["Accept-Encoding"] == "identity"


async def test_both_chat_paths_are_served() -> None:
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url) as proxy:
        for path in ("/v1/chat/completions", "/chat/completions"):
            status, _, _ = await post(proxy.base + path, vscode_request("deepseek-v4-pro", "chat", stream=False))
            assert status == 200
        assert [r.path for r in upstream.received] == ["/v1/chat/completions"] * 2


# -- routes ----------------------------------------------------------------------------------------


async def test_healthz() -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        await post(proxy.url, vscode_request("kimi-k2.6", "chat", stream=False))
        async with aiohttp.ClientSession() as session, session.get(proxy.base + "/healthz?probe=1") as response:
            assert response.status == 200
            health = await response.json()
        assert health["ok"] is True and health["provider"] == "kimi"
        assert health["port"] == proxy.port != 0
        assert health["upstream"] == upstream.url
        assert health["requests_served"] == 1 and health["in_flight"] == 0
        assert health["rules"]["kimi-k2.6"].startswith("replay reasoning; temperature=1 top_p=0.95")
        assert {"version", "uptime_s", "loop"} <= set(health)


async def test_models_in_openai_list_format() -> None:
    async with (
        running_proxy("mimo", f"http://127.0.0.1:{free_port()}/v1/chat/completions") as proxy,
        aiohttp.ClientSession() as session,
    ):
        for path in ("/v1/models", "/models"):
            async with session.get(proxy.base + path) as response:
                listing = await response.json()
            assert listing["object"] == "list"
            ids = [m["id"] for m in listing["data"]]
            assert "mimo-v2.6-pro" in ids and "mimo-v2-pro" not in ids  # deprecated ones are left out
            assert all(m["object"] == "model" and m["owned_by"] == "mimo" for m in listing["data"])


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("PUT", "/chat/completions", 405, "method_not_allowed"),
        ("POST", "/healthz", 405, "method_not_allowed"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
        ("GET", "/", 404, "not_found"),
        ("POST", "/v1/completions", 404, "not_found"),
        ("POST", "/v1/chat/completions/extra", 404, "not_found"),
    ],
)
async def test_other_routes_get_openai_shaped_errors(method: str, path: str, status: int, code: str) -> None:
    async with (
        running_proxy("kimi", f"http://127.0.0.1:{free_port()}/v1/chat/completions") as proxy,
        aiohttp.ClientSession() as session,
        session.request(method, proxy.base + path) as response,
    ):
        assert response.status == status
        error = (await response.json())["error"]
        assert error["code"] == code and error["message"].startswith("ccendpoint proxy:")
        assert error["type"] == "invalid_request_error"
        if status == 405:
            assert response.headers["Allow"] in ("GET", "POST")


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"{not json", "invalid_json", "not valid JSON"),
        (b"", "empty_body", "empty"),
        (b"   ", "empty_body", "empty"),
        (b"[1, 2]", "body_not_object", "not an array"),
        (b"null", "body_not_object", "not null"),
        (b"42", "body_not_object", "not a number"),
        (b'"text"', "body_not_object", "not a string"),
        (b'{"messages": []}', "invalid_model", '"model" is missing'),
        (b'{"model": 5}', "invalid_model", "a number, not a string"),
        (b'{"model": null}', "invalid_model", "null, not a string"),
        (b'{"model": ["kimi-k2.6"]}', "invalid_model", "an array, not a string"),
        (b"\xff\xfe{}", "invalid_json", "not valid JSON"),
    ],
)
async def test_bad_bodies_get_a_clear_400(raw: bytes, code: str, words: str) -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        status, answer, _ = await post(proxy.url, raw)
        assert status == 400
        assert answer["error"]["code"] == code and words in answer["error"]["message"]
        assert upstream.received == []


async def test_oversized_body_is_refused_from_its_content_length_without_reading_it() -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, max_body_mb=1) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n" + b"{" * 1000
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 413")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
        )
        error = orjson.loads(await reader.readexactly(length))["error"]
        assert error["code"] == "body_too_large" and "1 MiB" in error["message"] and "--max-body-mb" in error["message"]
        assert await asyncio.wait_for(reader.read(), 2) == b""  # the connection is closed, the rest never read
        writer.close()
        assert upstream.received == []


async def test_oversized_chunked_body_is_refused_while_reading() -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 100_000

    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, max_body_mb=1) as proxy:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.post(proxy.url, data=chunks(), headers=VSCODE_HEADERS) as response:
                    assert response.status == 413
                    assert (await response.json())["error"]["code"] == "body_too_large"
            except aiohttp.ClientError:
                pytest.fail("the client should get the 413 answer")
        assert upstream.received == []


async def test_a_body_just_under_the_limit_is_accepted() -> None:
    body = vscode_request("deepseek-v4-pro", "chat", stream=False)
    body["messages"][1]["content"] = "x" * 1_000_000
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url, max_body_mb=1) as proxy:
        status, _, _ = await post(proxy.url, body)
        assert status == 200
        assert len(upstream.last.raw) > 1_000_000


async def test_upstream_down_is_a_502_naming_the_host() -> None:
    async with running_proxy("kimi", f"http://127.0.0.1:{free_port()}/v1/chat/completions") as proxy:
        status, answer, _ = await post(proxy.url, vscode_request("kimi-k2.6", "chat"))
        assert status == 502
        error = answer["error"]
        assert error["code"] == "upstream_unreachable" and "127.0.0.1" in error["message"]
        assert KEY not in error["message"] and "Bearer" not in error["message"]


class FakeResolver(AbstractResolver):
    """Stands in for the system resolver (no DNS query leaves the machine): fails, or never answers."""

    hang = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls = 0

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


class HangingResolver(FakeResolver):
    hang = True


def use_resolver(monkeypatch: pytest.MonkeyPatch, resolver: type[AbstractResolver]) -> None:
    """Every resolver aiohttp creates from now on is ``resolver`` (names only; IP addresses skip it)."""
    monkeypatch.setattr(aiohttp.resolver, "DefaultResolver", resolver)
    monkeypatch.setattr(aiohttp.connector, "DefaultResolver", resolver)


async def test_upstream_host_that_does_not_resolve_is_a_502(monkeypatch: pytest.MonkeyPatch) -> None:
    use_resolver(monkeypatch, FakeResolver)
    async with running_proxy("kimi", "http://no-such-host.invalid/v1/chat/completions", trust_upstream=True) as proxy:
        status, answer, _ = await post(proxy.url, vscode_request("kimi-k2.6", "chat"))
        assert status == 502 and "no-such-host.invalid" in answer["error"]["message"]
        assert "could not be resolved" in answer["error"]["message"]


async def test_a_resolver_that_hangs_is_a_502_after_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    use_resolver(monkeypatch, HangingResolver)
    upstream = "http://api.upstream.example/v1/chat/completions"
    async with running_proxy("kimi", upstream, connect_timeout=0.3, first_byte_timeout=2, trust_upstream=True) as proxy:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, answer, _ = await post(proxy.url, vscode_request("kimi-k2.6", "chat"))
        waited = loop.time() - started
    assert status == 502, answer  # not a 504 once --first-byte-timeout ran out
    assert 0.25 <= waited < 1.5
    error = answer["error"]
    assert error["code"] == "upstream_unreachable"
    assert "api.upstream.example" in error["message"] and "resolved within 0.3 s" in error["message"]


async def test_the_bounded_resolver_passes_answers_through() -> None:
    class Answering(FakeResolver):
        async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
            self.calls += 1
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": family, "proto": 0, "flags": 0}]

    inner = Answering()
    resolver = BoundedResolver(0.5, inner)
    assert (await resolver.resolve("api.example", 443))[0]["host"] == "127.0.0.1" and inner.calls == 1
    await resolver.close()


async def test_upstream_slow_first_byte_is_a_504() -> None:
    async with (
        FakeUpstream("kimi", Behaviour(first_byte_delay=2)) as upstream,
        running_proxy("kimi", upstream.url, first_byte_timeout=0.2) as proxy,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, answer, _ = await post(proxy.url, vscode_request("kimi-k2.6", "chat"))
        assert status == 504 and loop.time() - started < 1
        assert answer["error"]["code"] == "upstream_timeout" and "127.0.0.1" in answer["error"]["message"]
        await asyncio.wait_for(upstream.cancelled.wait(), 1)  # the upstream request was dropped


async def test_upstream_429_is_passed_through_unchanged() -> None:
    behaviour = Behaviour(status=429, retry_after="7")
    async with FakeUpstream("kimi", behaviour) as upstream, running_proxy("kimi", upstream.url) as proxy:
        body = vscode_request("kimi-k2.6", "chat")
        direct = await post(upstream.url, body)
        proxied = await post(proxy.url, body)
        assert proxied[0] == direct[0] == 429
        assert proxied[1] == direct[1]
        assert proxied[2].headers["Retry-After"] == "7"


async def test_upstream_400_body_is_passed_through_unchanged() -> None:
    async with FakeUpstream("mimo") as upstream, running_proxy("mimo", upstream.url) as proxy:
        body = vscode_request("mimo-v2.6-pro", "first", stream=False, thinking={"type": "bogus"})
        direct = await post(upstream.url, body)
        proxied = await post(proxy.url, body)
        assert proxied[0] == direct[0] == 400
        assert (
            proxied[1]
            == direct[1]
            == {
                "error": {
                    "message": "Param Incorrect: thinking.type must be enabled or disabled",
                    "type": "invalid_request_error",
                }
            }
        )


async def test_keep_alive_connection_serves_many_requests() -> None:
    async with FakeUpstream("deepseek") as upstream, running_proxy("deepseek", upstream.url) as proxy:
        body = orjson.dumps(vscode_request("deepseek-v4-pro", "chat", stream=False))
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(20):
                async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
                    assert response.status == 200
                    await response.read()
        assert len(upstream.received) == 20
        assert proxy.listener.served == 20 and proxy.listener.in_flight == 0


def test_free_port_helper_gives_a_closed_port() -> None:
    port = free_port()
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(0.5)
        sock.connect(("127.0.0.1", port))


# -- a port that cannot be listened on: the hint names a port that is free now ----------------------


def _settings(port: int, catalog_port: int | None = 3457) -> ListenerSettings:
    kimi = replace(provider("kimi"), proxy_port=catalog_port)
    return resolve(kimi, ProxyOptions(port=port, no_log=True), layers=[])


def _suggested(error: CcendpointError) -> int:
    match = re.search(r"--port (\d+)", error.hint or "")
    assert match, error.hint
    return int(match.group(1))


def _can_bind(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_port_in_use_suggests_the_next_port_that_is_free() -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        try:
            neighbour = _listening(port + 1)
        except OSError:  # already taken by someone else: just as good for this test
            neighbour = socket.socket()
        with neighbour:
            error = bind_error(OSError(errno.EADDRINUSE, "in use"), _settings(port))
            suggested = _suggested(error)
            assert suggested not in (port, port + 1) and 0 < suggested <= 65535
            assert _can_bind(suggested)
    assert "KIMI_PROXY_PORT=" in (error.hint or "")  # what to set when the proxy runs with --all


def test_port_in_use_at_the_top_of_the_range_suggests_a_real_port() -> None:
    try:
        taken = _listening(65535)
    except OSError:
        pytest.skip("port 65535 is in use on this machine")
    with taken:
        suggested = _suggested(bind_error(OSError(errno.EADDRINUSE, "in use"), _settings(65535)))
    assert 0 < suggested <= 65535 and suggested != 65535


def test_the_suggestion_skips_the_other_listeners_of_the_process() -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        others = {port + 1, port + 2, port + 3}
        suggested = _suggested(bind_error(OSError(errno.EADDRINUSE, "in use"), _settings(port), others))
    assert suggested not in others | {port}


def test_not_allowed_suggests_a_free_user_port_not_a_fixed_one() -> None:
    with _listening() as taken:  # the catalog's port is busy: it must not be suggested
        busy = taken.getsockname()[1]
        error = bind_error(OSError(errno.EACCES, "denied"), _settings(80, catalog_port=busy))
        suggested = _suggested(error)
        assert suggested != busy and suggested >= 1024 and _can_bind(suggested)
    assert "administrator" in error.message
    portless = bind_error(OSError(errno.EACCES, "denied"), _settings(80, catalog_port=None))
    assert _suggested(portless) >= 1024 and "3457" not in (portless.hint or "")


def test_every_bind_error_has_a_fix_hint() -> None:
    for exc in (OSError(errno.EINVAL, "Invalid argument"), OSError(errno.EADDRNOTAVAIL, "no"), OSError("odd")):
        error = bind_error(exc, _settings(4000))
        assert error.hint and error.exit_code == 1, error.message


async def test_a_stream_longer_than_the_grace_period_ends_with_an_error_event_in_time() -> None:
    """Stopping waits the grace period, then ends what is still running with an error event."""
    slow = Behaviour(chunk_delay=0.2, chunks=40)  # about 8 s of answer
    body = orjson.dumps(vscode_request("kimi-k2.6", "chat"))
    async with (
        FakeUpstream("kimi", slow) as upstream,
        running_proxy("kimi", upstream.url, grace=0.5) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response,
    ):
        first = await response.content.readany()
        loop = asyncio.get_running_loop()
        started = loop.time()
        stopping = asyncio.ensure_future(proxy.server.stop())
        rest = await asyncio.wait_for(response.read(), 5)
        await stopping
        took = loop.time() - started
    assert 0.4 <= took < 0.5 + 1.5, took  # the grace period, then at most the close timeout
    last = (first + rest).strip().split(b"\n\n")[-1]
    assert last.startswith(b"data: ") and orjson.loads(last[6:])["error"]["code"] == "proxy_stopped"
