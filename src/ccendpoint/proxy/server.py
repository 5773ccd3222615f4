"""All listeners of one process: start them together (every port or none), stop them gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiohttp import web

from ccendpoint.proxy.app import build_app
from ccendpoint.proxy.binding import bind_error
from ccendpoint.proxy.listener import Listener
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.loop import install_stop_signals, run_loop
from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.proxy.settings import ListenerSettings
from ccendpoint.proxy.turns import Turns
from ccendpoint.proxy.upstream import UpstreamSession

#: How long in-flight requests may run on after SIGINT/SIGTERM before they are cut.
DEFAULT_GRACE = 5.0
#: How long ending the cut requests and closing the connections may take after the grace period.
CLOSE_TIMEOUT = 1.0


class ProxyServer:
    """All listeners of one process. ``start`` binds every port or none."""

    def __init__(
        self,
        settings: Sequence[ListenerSettings],
        log: RequestLog,
        *,
        grace: float = DEFAULT_GRACE,
        reasoning: ReasoningCache | None = None,
    ) -> None:
        connect = min((s.connect_timeout for s in settings), default=10.0)
        self.upstream = UpstreamSession(connect)
        self.log = log
        self.grace = grace
        self.reasoning = reasoning
        self.turns = Turns()
        self.listeners = [Listener(s, log, self.upstream, reasoning, self.turns) for s in settings]
        self._ports = frozenset(s.port for s in settings if s.port)
        self._runners: list[web.AppRunner] = []
        self._sites: list[web.TCPSite] = []

    async def start(self) -> None:
        self.log.start()
        try:
            for listener in self.listeners:
                await self._start_one(listener)
        except BaseException:
            await self.stop()
            raise

    async def _start_one(self, listener: Listener) -> None:
        runner = listener.runner(
            build_app(listener),
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a client that goes away cancels its upstream request at once
            lingering_time=0,  # a refused (413) body is not read to its end: the connection is closed
            shutdown_timeout=CLOSE_TIMEOUT,  # the grace period is kept by stop(), not by aiohttp
        )
        await runner.setup()
        self._runners.append(runner)
        settings = listener.settings
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            raise bind_error(exc, settings, self._ports) from None
        self._sites.append(site)
        addresses = runner.addresses
        if addresses:
            listener.bound_port = int(addresses[0][1])

    @property
    def in_flight(self) -> int:
        return sum(listener.in_flight for listener in self.listeners)

    async def stop(self) -> None:
        """Stop accepting, give in-flight requests up to ``grace`` seconds, then end the rest.

        A request still running after the grace period is ended the way an upstream failure ends
        it: a stream gets a final error event saying the proxy stopped, then closes. In all, a stop
        takes at most ``grace`` plus a second.
        """
        for site in self._sites:
            await site.stop()  # closes the listening sockets; requests in flight go on
        self._sites = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        running = [task for listener in self.listeners for task in listener.stop_requests()]
        if running:
            await asyncio.wait(running, timeout=CLOSE_TIMEOUT)
        runners, self._runners = self._runners, []
        await asyncio.gather(*(runner.cleanup() for runner in runners), return_exceptions=True)
        await self.upstream.close()
        self.log.close()
        if self.reasoning is not None:
            self.reasoning.close()


async def serve(
    server: ProxyServer,
    on_started: Callable[[ProxyServer], None] | None = None,
    on_stopping: Callable[[ProxyServer], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Start, wait for SIGINT/SIGTERM (or ``stop``), then shut down gracefully."""
    stop = stop or asyncio.Event()
    remove = install_stop_signals(stop)
    try:
        await server.start()
        if on_started is not None:
            on_started(server)
        await stop.wait()
        if on_stopping is not None:
            on_stopping(server)
    finally:
        remove()
        await server.stop()


def run(
    server: ProxyServer,
    on_started: Callable[[ProxyServer], None] | None = None,
    on_stopping: Callable[[ProxyServer], None] | None = None,
) -> None:
    """Blocking: serve until a stop signal, then return normally."""
    run_loop(serve(server, on_started, on_stopping))
