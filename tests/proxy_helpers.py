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
from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.proxy.server import ProxyServer
from ccendpoint.proxy.settings import ProxyOptions, resolve
from ccendpoint.vscode.blocks import render_model
from vscode_client import Chat, headers, tool_call

USER_TEXT = "What does README.md say?"
README_CALL = tool_call("read_file", {"path": "README.md"}, "call_1")
README_TEXT = "# Project\nHello."


def model_entry(model: str) -> dict[str, Any]:
    """The entry ``ccendpoint add`` writes for ``model`` (a plain one for ids the catalog does not know)."""
    for found in bundled_catalog().providers:
        if found.model(model) is not None:
            return render_model(found.model(model), "http://127.0.0.1:1/v1/chat/completions")  # type: ignore[arg-type]
    return {"id": model, "name": model, "toolCalling": True, "vision": False, "maxOutputTokens": 16000}


def vscode_request(
    model: str,
    turn: str = "chat",
    *,
    stream: bool = True,
    reasoning: str | None = None,
    echo: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What VS Code 1.139 sends for ``model``'s entry (see :mod:`vscode_client`).

    ``turn``: ``chat`` (Ask mode), ``first`` (Agent mode's first request), ``follow_up`` (Agent
    mode after one tool call: the call and its result in the history, without reasoning, as VS Code
    keeps reasoning that carried no id; ``reasoning`` puts ``reasoning_content`` on it, ``echo``
    returns it as VS Code returns reasoning that carried an id).
    """
    chat = Chat(model_entry(model), mode="ask" if turn == "chat" else "agent")
    chat.ask(USER_TEXT)
    if turn == "follow_up":
        tagged = {"reasoning": echo, "reasoning_id": "ccr-test"} if echo is not None else {}
        chat.add_round([copy.deepcopy(README_CALL)], [README_TEXT], **tagged)  # type: ignore[arg-type]
    body = chat.request(stream=stream)
    if reasoning is not None:
        for message in body["messages"]:
            if message.get("tool_calls"):
                message["reasoning_content"] = reasoning
    body.update(extra)
    return body


#: VS Code's headers, with a key that looks like a real one (redaction tests look for it).
VSCODE_HEADERS = {**headers(), "Authorization": "Bearer sk-test-not-a-real-key-000000000000"}

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
