"""One provider's listener: its settings, its rewrite pipelines, the shared pieces it uses, its counters,
and the runner that serves its routes with every failure answered in JSON and logged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ccendpoint import __version__
from ccendpoint.proxy.errors import PARSER_LIMITS, install_error_pages, json_errors, server_logger
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.loop import loop_name
from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.proxy.record import RequestRecord
from ccendpoint.proxy.settings import ListenerSettings
from ccendpoint.proxy.turns import Turns
from ccendpoint.proxy.upstream import UpstreamSession
from ccendpoint.rules.pipeline import RuleBook
from ccendpoint.urls import hostname, proxy_url, safe_url

#: Request bytes aiohttp buffers before it pauses reading: a large body arrives in a few reads, not
#: in pauses and resumes every 128 KB (4 MB: 1.7 ms to read instead of 4).
READ_BUFSIZE = 2 * 1024 * 1024


class Listener:
    def __init__(
        self,
        settings: ListenerSettings,
        log: RequestLog,
        upstream: UpstreamSession,
        reasoning: ReasoningCache | None = None,
        turns: Turns | None = None,
    ) -> None:
        self.settings = settings
        self.provider = settings.provider
        self.provider_id = settings.provider.id
        self.rules = RuleBook(settings.provider)
        #: Shared by every listener of the process; None when no rule set replays reasoning.
        self.reasoning = reasoning if self.rules.replays() else None
        self.log = log
        #: Shared by every listener of the process: large-body requests in flight at once.
        self.turns = turns or Turns()
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

    def runner(self, app: web.Application, **kwargs: Any) -> web.AppRunner:
        """The runner that serves ``app`` (this listener's routes): failures anywhere answered in JSON."""
        return _Runner(app, self, **kwargs)

    def report_failure(self, request: web.BaseRequest | None, status: int, outcome: str, message: str) -> None:
        """Log a request that failed outside the chat path (the chat path logs its own)."""
        record = RequestRecord(provider=self.provider_id, port=self.bound_port)
        if request is not None:
            record.path = request.path
        record.fail(outcome, message, status)
        self.log.emit(record, self.settings.log_path)

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


class _Runner(web.AppRunner):
    """An app runner whose failures are all JSON: a middleware for the routes, error pages for the rest."""

    def __init__(self, app: web.Application, listener: Listener, **kwargs: Any) -> None:
        kwargs.setdefault("read_bufsize", READ_BUFSIZE)
        kwargs.update(PARSER_LIMITS)  # the limits a 431 names, whatever aiohttp's defaults are
        kwargs["logger"] = server_logger(listener.report_failure)
        super().__init__(app, **kwargs)
        self.listener = listener

    async def setup(self) -> None:
        # outermost, before the app is frozen: it sees what every other middleware and route raises
        self.app.middlewares.insert(0, json_errors(self.listener.report_failure))
        await super().setup()
        assert self.server is not None
        install_error_pages(self.server, self.listener.report_failure)
