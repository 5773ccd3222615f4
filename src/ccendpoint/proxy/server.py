"""The proxy process: one aiohttp listener per provider, a shared upstream session, start and stop.

Routes of every listener:

- ``POST /v1/chat/completions`` and ``POST /chat/completions``: rewrite and forward (:mod:`.relay`);
- ``GET /healthz``: state of the listener as JSON;
- ``GET /v1/models`` (and ``/models``): the provider's catalog models in OpenAI list format;
- anything else: 404, or 405 for a known path with the wrong method, as OpenAI-shaped JSON.

On POSIX systems ``ccendpoint proxy`` checks its options and then replaces itself (``exec``) with a
lean serving process that starts in :func:`worker_main` and imports only what serving needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import importlib
import ipaddress
import os
import pickle
import signal
import socket
import sys
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import aiohttp.resolver
import orjson
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from ccendpoint import __version__
from ccendpoint.catalog.describe import model_rules_short
from ccendpoint.errors import CcendpointError
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.reasoning import PRIVATE_FOLDER_MODE, ReasoningCache
from ccendpoint.proxy.relay import error_response, handle_chat
from ccendpoint.proxy.rules import RuleBook
from ccendpoint.proxy.settings import ListenerSettings, env_names, safe_url

if TYPE_CHECKING:
    from rich.console import Console

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MODELS_PATHS = ("/v1/models", "/models")
HEALTH_PATH = "/healthz"
REASONING_FILE = "reasoning-turns.sqlite3"
#: The cache file of older versions, keyed in a way nothing reads any more: removed on start.
OLD_REASONING_FILES = ("reasoning.sqlite3", "reasoning.sqlite3-wal", "reasoning.sqlite3-shm")
#: How long in-flight requests may run on after SIGINT/SIGTERM before they are cut.
DEFAULT_GRACE = 5.0
#: ``CCENDPOINT_LOOP=asyncio`` runs without uvloop even when it is installed.
LOOP_ENV = "CCENDPOINT_LOOP"

T = TypeVar("T")


class BoundedResolver(AbstractResolver):
    """aiohttp's default resolver with a time limit.

    ``sock_connect`` bounds connecting, not looking the name up first; without this a resolver
    that hangs would hold a request until ``--first-byte-timeout`` (a 504 after minutes) instead
    of failing as unreachable (a 502) after the connect timeout. Only a new connection whose name
    is not in the DNS cache gets here, so requests on pooled connections pay nothing.
    """

    def __init__(self, timeout: float, inner: AbstractResolver | None = None) -> None:
        self.timeout = timeout
        self._inner = inner if inner is not None else aiohttp.resolver.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            return await asyncio.wait_for(self._inner.resolve(host, port, family), self.timeout)
        except asyncio.TimeoutError:
            # an OSError with an errno: aiohttp reports it as ClientConnectorDNSError (see relay)
            raise TimeoutError(errno.ETIMEDOUT, f"no answer within {self.timeout:g} s") from None

    async def close(self) -> None:
        await self._inner.close()


class UpstreamSession:
    """The one client session every listener of the process shares (connection pooling)."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._resolver: BoundedResolver | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._resolver = BoundedResolver(self.connect_timeout)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, limit_per_host=0, ttl_dns_cache=300, resolver=self._resolver),
                # bodies pass through as they are: a compressed answer keeps its Content-Encoding
                auto_decompress=False,
                # never keep one user's cookies for the next request
                cookie_jar=aiohttp.DummyCookieJar(),
                # no total limit: long streams are fine; silence is caught by the relay's watchdog.
                # Looking the name up is limited by the resolver, connecting by sock_connect.
                timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self.connect_timeout),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:  # a resolver given to the connector is not closed by it
            await self._resolver.close()
            self._resolver = None


class Listener:
    """One provider's listener: settings, compiled rules, counters."""

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
        self.upstream_host = urlsplit(settings.upstream).hostname or "?"
        self.upstream_label = safe_url(settings.upstream)
        self.bound_port = settings.port
        self.served = 0
        self.in_flight = 0
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

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.bound_port}/v1/chat/completions"

    def rules_summary(self) -> list[tuple[list[str], str]]:
        """Current models grouped by what the proxy does to them: ([model ids], rules in short words)."""
        groups: dict[str, list[str]] = {}
        for model in self.provider.current_models():
            groups.setdefault(model_rules_short(model), []).append(model.id)
        return [(ids, text) for text, ids in groups.items()]

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


# -- the app ---------------------------------------------------------------------------------------

LISTENER_KEY = web.AppKey("listener", Listener)


def _method_not_allowed(request: web.Request, allowed: str) -> web.Response:
    response = error_response(
        405,
        f"ccendpoint proxy: {request.method} is not allowed on {request.path}; use {allowed}.",
        "method_not_allowed",
    )
    response.headers["Allow"] = allowed
    return response


async def _chat(request: web.Request) -> web.StreamResponse:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    return await handle_chat(request, request.app[LISTENER_KEY])


async def _health(request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    return web.Response(body=orjson.dumps(request.app[LISTENER_KEY].health()), content_type="application/json")


async def _models(request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    return web.Response(body=request.app[LISTENER_KEY].models_body, content_type="application/json")


async def _not_found(request: web.Request) -> web.StreamResponse:
    return error_response(
        404,
        f"ccendpoint proxy: nothing at {request.path}. Chat requests go to POST /v1/chat/completions.",
        "not_found",
    )


def build_app(listener: Listener) -> web.Application:
    app = web.Application(client_max_size=listener.settings.max_body_bytes)
    app[LISTENER_KEY] = listener
    for path in CHAT_PATHS:
        app.router.add_route("*", path, _chat)
    app.router.add_route("*", HEALTH_PATH, _health)
    for path in MODELS_PATHS:
        app.router.add_route("*", path, _models)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


# -- starting and stopping -------------------------------------------------------------------------


#: How many ports above a taken one are tried before asking the system for any free port.
PORT_PROBES = 100
#: Ports from here up need no administrator rights.
FIRST_USER_PORT = 1024


def free_port(host: str, start: int, avoid: Collection[int] = ()) -> int | None:
    """A port that can be listened on right now: the first free one from ``start`` up, else any.

    Each candidate is bound with a probe socket that is closed at once. Ports in ``avoid`` (the
    other listeners of this process) and ports that need administrator rights are skipped. None
    when not even the system finds one.
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        address, family = str(literal), (socket.AF_INET6 if literal.version == 6 else socket.AF_INET)
    except ValueError:  # a host name: probe the loopback address
        address, family = "127.0.0.1", socket.AF_INET
    start = max(start, FIRST_USER_PORT)
    candidates = [port for port in range(start, min(start + PORT_PROBES, 65536)) if port not in avoid]
    for port in [*candidates, 0]:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((address, port))
                found = int(probe.getsockname()[1])
        except OSError:
            continue
        if found not in avoid:
            return found
    return None


def _port_hint(settings: ListenerSettings, start: int, avoid: Collection[int], first: str) -> str:
    provider = settings.provider.id
    port = free_port(settings.host, start, avoid)
    if port is None:
        return f"{first}, or pick a free port yourself: ccendpoint proxy {provider} --port PORT"
    variable = env_names(settings.provider)["port"]
    return (
        f"{first}, or use port {port}, which is free now: ccendpoint proxy {provider} --port {port} "
        f"(with --all: {variable}={port} in the environment or .env)"
    )


def bind_error(exc: OSError, settings: ListenerSettings, avoid: Collection[int] = ()) -> CcendpointError:
    """A clear message for a listener that cannot bind (no traceback), with a port that is free now."""
    where = f"{settings.host}:{settings.port}"
    provider = settings.provider.id
    avoid = {*avoid, settings.port}
    if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
        return CcendpointError(
            f"Port {settings.port} is already in use ({where}), so the {provider} proxy cannot start. "
            "Another ccendpoint proxy may already be running.",
            hint=_port_hint(settings, settings.port + 1, avoid, "Stop the other program"),
            exit_code=1,
        )
    if exc.errno in (errno.EACCES, errno.EPERM) or getattr(exc, "winerror", None) == 10013:
        if settings.port < FIRST_USER_PORT:
            reason = f"ports below {FIRST_USER_PORT} need administrator rights"
            catalog = settings.provider.proxy_port
            start = catalog if catalog is not None and catalog >= FIRST_USER_PORT else FIRST_USER_PORT
        else:
            reason = "the system keeps this port for itself or another program"
            start = settings.port + 1
        return CcendpointError(
            f"Not allowed to listen on {where} ({reason}).",
            hint=_port_hint(settings, start, avoid, "Choose another port"),
            exit_code=1,
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return CcendpointError(
            f"Cannot listen on {settings.host}: it is not an address of this machine.",
            hint="Use --host 127.0.0.1 (the default).",
            exit_code=1,
        )
    return CcendpointError(
        f"Cannot listen on {where}: {exc.strerror or exc}.",
        hint=_port_hint(
            settings,
            settings.port + 1,
            avoid,
            "Check that --host is an address of this machine (the default 127.0.0.1 always is)",
        ),
        exit_code=1,
    )


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
        self.listeners = [Listener(s, log, self.upstream, reasoning) for s in settings]
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
        runner = web.AppRunner(
            build_app(listener),
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a client that goes away cancels its upstream request at once
            lingering_time=0,  # a refused (413) body is not read to its end: the connection is closed
            shutdown_timeout=self.grace,
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
        """Stop accepting, give in-flight requests up to ``grace`` seconds, then close everything."""
        for site in self._sites:
            await site.stop()
        self._sites = []
        runners, self._runners = self._runners, []
        await asyncio.gather(*(runner.cleanup() for runner in runners), return_exceptions=True)
        await self.upstream.close()
        self.log.close()
        if self.reasoning is not None:
            self.reasoning.close()


# -- the event loop --------------------------------------------------------------------------------


def _uvloop() -> Any | None:
    if os.environ.get(LOOP_ENV, "").lower() == "asyncio" or sys.platform == "win32":
        return None
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this process runs (or would run) on."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return "uvloop" if _uvloop() is not None else "asyncio"
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed, on the standard loop otherwise."""
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    result: T = uvloop.run(main)
    return result


def _install_stop_signals(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


async def serve(
    server: ProxyServer,
    on_started: Callable[[ProxyServer], None] | None = None,
    on_stopping: Callable[[ProxyServer], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Start, wait for SIGINT/SIGTERM (or ``stop``), then shut down gracefully."""
    stop = stop or asyncio.Event()
    remove = _install_stop_signals(stop)
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


# -- the serving process ---------------------------------------------------------------------------


def listener_line(listener: Listener) -> str:
    """One start-up line: provider, local URL, upstream and the rules in short words."""
    rules = " | ".join(
        f"{ids[0]}{f' (+{len(ids) - 1})' if len(ids) > 1 else ''}: {text}" for ids, text in listener.rules_summary()
    )
    return f"{listener.provider_id}  {listener.url} → {listener.upstream_label}  rules: {rules or 'pass-through'}"


class Output:
    """Start-up and shutdown lines on stdout, errors on stderr; rich only when stdout is a terminal."""

    def __init__(self) -> None:
        self.console: Console | None = None
        if sys.stdout.isatty():
            from rich.console import Console

            self.console = Console(highlight=False)

    def line(self, text: str, *, bold: int = 0, dim: bool = False) -> None:
        """Print ``text``; on a terminal its first ``bold`` characters are bold, or all of it is dim."""
        if self.console is None:
            with contextlib.suppress(OSError):  # stdout closed or a pipe whose reader went away
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            return
        from rich.markup import escape

        markup = f"[bold]{escape(text[:bold])}[/bold]{escape(text[bold:])}" if bold else escape(text)
        self.console.print(f"[dim]{markup}[/dim]" if dim else markup)  # wrapped at the terminal width

    def error(self, exc: CcendpointError) -> None:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(exc.hint + "\n")
        sys.stderr.flush()


def open_reasoning_cache() -> ReasoningCache:
    """The reasoning replay cache, persisted in the user cache folder so restarts keep it.

    The folder is ccendpoint's own; it is made private (0700) even when something else created it
    first, since the cache holds conversation content.
    """
    from ccendpoint import dirs

    folder = dirs.cache_dir()
    with contextlib.suppress(OSError):  # a folder that cannot be made only turns persistence off
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        if os.name == "posix" and folder.stat().st_mode & 0o777 != PRIVATE_FOLDER_MODE:
            folder.chmod(PRIVATE_FOLDER_MODE)
    for name in OLD_REASONING_FILES:
        with contextlib.suppress(OSError):
            (folder / name).unlink(missing_ok=True)
    return ReasoningCache(folder / REASONING_FILE)


def serve_main(listeners: Sequence[ListenerSettings], grace: float = DEFAULT_GRACE) -> int:
    """Serve until SIGINT/SIGTERM; the exit code (0 after a normal stop)."""
    out = Output()
    server = ProxyServer(listeners, RequestLog(console=out.console), grace=grace, reasoning=open_reasoning_cache())

    def started(srv: ProxyServer) -> None:
        # what start-up created lives as long as the process: keep it out of the collector's full
        # passes, which otherwise stall a request now and then (a large body creates many objects)
        gc.freeze()
        for listener in srv.listeners:
            out.line(listener_line(listener), bold=len(listener.provider_id))
        paths = sorted({str(lst.settings.log_path) for lst in srv.listeners if lst.settings.log_path is not None})
        log_text = ", ".join(paths) if paths else "off"
        out.line(f"Request log: {log_text} · event loop: {loop_name()} · Ctrl+C stops.", dim=True)

    def stopping(srv: ProxyServer) -> None:
        if srv.in_flight:
            out.line(f"Stopping: waiting up to {srv.grace:g} s for {srv.in_flight} request(s) in flight…", dim=True)

    try:
        run(server, started, stopping)
    except CcendpointError as exc:
        out.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:  # a signal before the handlers were in place
        return 130
    out.line("Proxy stopped.", dim=True)
    return 0


def worker_main(argv: Sequence[str]) -> int:
    """Entry point of the serving process: read (and delete) the settings file, then serve."""
    path = Path(argv[0])
    try:
        data = path.read_bytes()
    finally:
        path.unlink(missing_ok=True)
    listeners: list[ListenerSettings] = pickle.loads(data)
    return serve_main(listeners)
