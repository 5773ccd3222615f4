"""``ccendpoint proxy``: run the rewriting proxy for one provider, or for all of them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ccendpoint.commands import common
from ccendpoint.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from ccendpoint.proxy.server import Listener, ProxyServer
    from ccendpoint.proxy.settings import ListenerSettings


def proxy(
    ctx: typer.Context,
    provider: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Provider id or alias, e.g. kimi. Omit with --all."),
    ] = None,
    all_providers: Annotated[
        bool, typer.Option("--all", help="Serve every provider that has a proxy port, each on its own port.")
    ] = False,
    port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--port", help="Port to listen on (default: the catalog's; 0 picks a free one).", metavar="PORT"),
    ] = None,
    host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--host",
            help="Address to listen on (default 127.0.0.1). Anything but loopback makes the proxy "
            "reachable from the network.",
            metavar="ADDRESS",
        ),
    ] = None,
    upstream: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--upstream", help="Upstream chat-completions URL (default: the catalog's).", metavar="URL"),
    ] = None,
    region: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--region", help="Use the catalog's endpoint for this region.", metavar="REGION"),
    ] = None,
    log: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--log", help="Write the request log (NDJSON) to this file.", metavar="PATH"),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not write a request log file.")] = False,
    max_body_mb: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--max-body-mb", help="Largest request body accepted, in MiB (default 64).", metavar="MIB"),
    ] = None,
    first_byte_timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--first-byte-timeout",
            help="Seconds to wait for the upstream's answer to start (default 300).",
            metavar="SECONDS",
        ),
    ] = None,
    idle_timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--idle-timeout",
            help="Seconds the upstream may stay silent in the middle of an answer (default 300).",
            metavar="SECONDS",
        ),
    ] = None,
) -> None:
    """Run the local proxy that fixes each request for the provider, as the catalog says.

    Settings come from these flags, then environment variables (KIMI_PROXY_PORT, KIMI_UPSTREAM_URL,
    KIMI_PROXY_LOG, … named after each provider), then a .env file in the working directory or the
    user config directory, then the catalog.

    Example: ccendpoint proxy kimi
    """
    from ccendpoint.catalog.lookup import find_provider
    from ccendpoint.proxy.settings import ProxyOptions, resolve, resolve_all

    if all_providers and provider:
        raise UsageError("Name one provider or use --all, not both.")
    if not all_providers and not provider:
        raise UsageError("Which provider? Example: ccendpoint proxy kimi (or --all for every provider).")
    if log is not None and no_log:
        raise UsageError("--log and --no-log contradict each other; pick one.")

    options = ProxyOptions(
        port=port,
        host=host,
        upstream=upstream,
        region=region,
        log=log,
        no_log=no_log,
        max_body_mb=max_body_mb,
        first_byte_timeout=first_byte_timeout,
        idle_timeout=idle_timeout,
    )
    cat = common.catalog(ctx)
    if all_providers:
        listeners = resolve_all(cat, options)
    else:
        assert provider is not None
        listeners = [resolve(find_provider(cat, provider), options)]
    try:
        _serve(listeners)
    except KeyboardInterrupt:  # Ctrl+C before the signal handlers were in place
        raise typer.Exit(130) from None


def _serve(listeners: list[ListenerSettings]) -> None:
    from ccendpoint.proxy.logs import RequestLog
    from ccendpoint.proxy.server import ProxyServer, run

    out = common.console()
    err = common.err_console()
    for settings in listeners:
        if settings.exposed:
            err.print(
                f"[bold yellow]warning:[/bold yellow] the {settings.provider.id} proxy listens on {settings.host}, "
                "so it is reachable from the network: anyone who can reach this port can send requests "
                "through it with their own key.",
                soft_wrap=True,
            )
    request_log = RequestLog(console=out if sys.stdout.isatty() else None)
    server = ProxyServer(listeners, request_log)
    run(server, on_started=lambda s: _print_started(out, s), on_stopping=lambda s: _print_stopping(out, s))
    out.print("[dim]Proxy stopped.[/dim]")


def listener_line(listener: Listener) -> str:
    """One start-up line (rich markup): provider, local URL, upstream and the rules in short words."""
    from rich.markup import escape

    rules = " | ".join(
        f"{escape(ids[0])}{f' (+{len(ids) - 1})' if len(ids) > 1 else ''}: {escape(text)}"
        for ids, text in listener.rules_summary()
    )
    return (
        f"[bold]{escape(listener.provider_id)}[/bold]  {escape(listener.url)} → {escape(listener.upstream_label)}"
        f"  [dim]rules:[/dim] {rules or 'pass-through'}"
    )


def _print_started(out: Console, server: ProxyServer) -> None:
    from rich.markup import escape

    from ccendpoint.proxy.server import loop_name

    for listener in server.listeners:
        out.print(listener_line(listener), soft_wrap=True)
    paths = sorted({str(lst.settings.log_path) for lst in server.listeners if lst.settings.log_path is not None})
    log_text = ", ".join(paths) if paths else "off"
    out.print(
        f"[dim]Request log: {escape(log_text)} · event loop: {loop_name()} · Ctrl+C stops.[/dim]",
        soft_wrap=True,
    )


def _print_stopping(out: Console, server: ProxyServer) -> None:
    busy = server.in_flight
    if busy:
        out.print(f"[dim]Stopping: waiting up to {server.grace:g} s for {busy} request(s) in flight…[/dim]")
