"""Shared pieces for the proxy tests: VS Code-shaped requests and an in-process proxy."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Catalog, Provider
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.reasoning import ReasoningCache
from ccendpoint.proxy.server import ProxyServer
from ccendpoint.proxy.settings import ProxyOptions, resolve

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file from the workspace.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_dir",
            "description": "List a folder.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]

SYSTEM = {"role": "system", "content": "You are an expert AI programming assistant."}
USER = {"role": "user", "content": "What does README.md say?"}


def assistant_tool_call(reasoning: str | None = None, call_id: str = "call_1") -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "read_file", "arguments": '{"path":"README.md"}'}}
        ],
    }
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


TOOL_RESULT = {"role": "tool", "tool_call_id": "call_1", "content": "# Project\nHello."}


def vscode_request(
    model: str,
    turn: str = "chat",
    *,
    stream: bool = True,
    reasoning: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What VS Code's Custom Endpoint sends.

    ``turn``: ``chat`` (no tools), ``first`` (agent's first turn: tools offered, nothing else),
    ``follow_up`` (tools again, an assistant tool call and its result in the history; the
    assistant message carries ``reasoning`` only when given, as VS Code drops it).
    """
    messages: list[dict[str, Any]] = [dict(SYSTEM), dict(USER)]
    if turn == "follow_up":
        messages += [assistant_tool_call(reasoning), dict(TOOL_RESULT)]
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": 0.1,
        "top_p": 1,
        "n": 1,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if turn in ("first", "follow_up"):
        body["tools"] = copy.deepcopy(TOOLS)
    body.update(extra)
    return body


VSCODE_HEADERS = {
    "Authorization": "Bearer sk-test-not-a-real-key-000000000000",
    "Content-Type": "application/json",
    "User-Agent": "GitHubCopilotChat/0.30.0",
    "X-Request-Id": "4f1c2b9e-8d7a-4e3f-9c1b-2a3d4e5f6a7b",
    "OpenAI-Intent": "conversation-other",
}

_CATALOG: Catalog | None = None


def bundled_catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = load_catalog(use_overlays=False)
    return _CATALOG


def provider(provider_id: str) -> Provider:
    found = bundled_catalog().provider(provider_id)
    assert found is not None, provider_id
    return found


@dataclass
class RunningProxy:
    server: ProxyServer

    @property
    def listener(self) -> Any:
        return self.server.listeners[0]

    @property
    def port(self) -> int:
        return int(self.listener.bound_port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"


@asynccontextmanager
async def running_proxy(
    provider_id: str,
    upstream: str,
    *,
    log: Path | None = None,
    request_log: RequestLog | None = None,
    grace: float = 0.5,
    reasoning: ReasoningCache | None = None,
    connect_timeout: float | None = None,
    **options: Any,
) -> AsyncIterator[RunningProxy]:
    """The proxy for ``provider_id`` on a free loopback port, forwarding to ``upstream``.

    As in production it keeps a reasoning cache (in memory unless one is given).
    """
    opts = ProxyOptions(port=0, upstream=upstream, no_log=log is None, log=log)
    opts = replace(opts, **options)
    settings = resolve(provider(provider_id), opts, layers=[])
    if connect_timeout is not None:
        settings = replace(settings, connect_timeout=connect_timeout)
    cache = reasoning if reasoning is not None else ReasoningCache()
    server = ProxyServer([settings], request_log or RequestLog(), grace=grace, reasoning=cache)
    await server.start()
    try:
        yield RunningProxy(server)
    finally:
        await server.stop()


async def read_log(path: Path, count: int = 1) -> list[dict[str, Any]]:
    """The request log's lines once it has at least ``count`` (the log thread writes them shortly after)."""
    for _ in range(100):
        if path.exists():
            lines = path.read_bytes().splitlines()
            if len(lines) >= count:
                return [orjson.loads(line) for line in lines]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} has fewer than {count} lines")
