"""One provider's listener: its settings, its rewrite pipelines, the shared pieces it uses, its counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from ccendpoint import __version__
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.loop import loop_name
from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.proxy.settings import ListenerSettings
from ccendpoint.proxy.upstream import UpstreamSession
from ccendpoint.rules.pipeline import RuleBook
from ccendpoint.urls import hostname, proxy_url, safe_url


class Listener:
    def __init__(
        self,
        settings: ListenerSettings,
        log: RequestLog,
        upstream: UpstreamSession,
        reasoning: ReasoningCache | None = None,
    ) -> None:
        self.settings = settings
        self.provider = settings.provider
        self.provider_id = settings.provider.id
        self.rules = RuleBook(settings.provider)
        #: Shared by every listener of the process; None when no rule set replays reasoning.
        self.reasoning = reasoning if self.rules.replays() else None
        self.log = log
        self.session: Callable[[], aiohttp.ClientSession] = upstream.get
        self.upstream_host = hostname(settings.upstream) or "?"
        self.upstream_label = safe_url(settings.upstream)
        self.bound_port = settings.port
        self.served = 0
        self.in_flight = 0
        #: The tasks of the requests in flight, and whether the proxy is stopping (see :meth:`stop_requests`).
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self.started = time.monotonic()
        self.models_body = orjson.dumps(
            {
                "object": "list",
                "data": [
                    {"id": m.id, "object": "model", "created": 0, "owned_by": self.provider_id, "name": m.name}
                    for m in self.provider.current_models()
                ],
            }
        )

    def stop_requests(self) -> list[asyncio.Task[Any]]:
        """End the requests still in flight: the relay sees ``stopping`` and ends each answer cleanly."""
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        return list(self.tasks)

    @property
    def url(self) -> str:
        return proxy_url(self.bound_port, self.settings.host)

    def rules_summary(self) -> list[tuple[list[str], str]]:
        """Current models grouped by what the proxy does to them: ([model ids], rules in short words)."""
        return self.rules.summary([model.id for model in self.provider.current_models()])

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "provider": self.provider_id,
            "upstream": self.upstream_label,
            "host": self.settings.host,
            "port": self.bound_port,
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "requests_served": self.served,
            "in_flight": self.in_flight,
            "default_rules": self.provider.default_rules.name,
            "rules": self.rules.short(),
            "loop": loop_name(),
        }
