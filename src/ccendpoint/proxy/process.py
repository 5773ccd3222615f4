"""The serving process: ``python -m ccendpoint.proxy --settings FILE.json``.

``ccendpoint proxy`` checks its options, writes the checked settings to a private file and, on
POSIX, replaces itself with this process (``exec``), which imports only what serving needs (no
typer, no PyYAML): the command-line libraries would otherwise stay in memory for the proxy's whole
life. Elsewhere, and when the command runs inside another program (a test), it calls :func:`main`
directly, so both take the same path: read the file (and delete it), build the listeners, serve.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ccendpoint.errors import CcendpointError
from ccendpoint.proxy.listener import Listener
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.loop import loop_name
from ccendpoint.proxy.reasoning_cache import open_reasoning_cache
from ccendpoint.proxy.server import DEFAULT_GRACE, ProxyServer, run
from ccendpoint.proxy.settings import ListenerSettings, from_handoff

if TYPE_CHECKING:
    from rich.console import Console


def listener_line(listener: Listener) -> str:
    """One start-up line: provider, local URL, upstream and the rules in short words."""
    rules = " | ".join(
        f"{ids[0]}{f' (+{len(ids) - 1})' if len(ids) > 1 else ''}: {text}" for ids, text in listener.rules_summary()
    )
    origin = listener.settings.origins.get("upstream", "")
    source = "" if origin.startswith("catalog") else f" (from {origin})"
    return (
        f"{listener.provider_id}  {listener.url} → {listener.upstream_label}{source}  rules: {rules or 'pass-through'}"
    )


class Output:
    """Start-up and shutdown lines on stdout, errors on stderr; rich only when stdout is a terminal."""

    def __init__(self) -> None:
        self.console: Console | None = None
        if sys.stdout.isatty():
            from rich.console import Console  # here: a proxy whose output is not a terminal never loads rich

            self.console = Console(highlight=False)

    def line(self, text: str, *, bold: int = 0, dim: bool = False) -> None:
        """Print ``text``; on a terminal its first ``bold`` characters are bold, or all of it is dim."""
        if self.console is None:
            with contextlib.suppress(OSError):  # stdout closed or a pipe whose reader went away
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            return
        from rich.markup import escape  # here: loaded only with the console above

        markup = f"[bold]{escape(text[:bold])}[/bold]{escape(text[bold:])}" if bold else escape(text)
        self.console.print(f"[dim]{markup}[/dim]" if dim else markup)  # wrapped at the terminal width

    def error(self, exc: CcendpointError) -> None:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(exc.hint + "\n")
        sys.stderr.flush()


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


def main(argv: Sequence[str] | None = None) -> int:
    """Read the settings file ``ccendpoint proxy`` wrote (and delete it), then serve."""
    parser = argparse.ArgumentParser(prog="python -m ccendpoint.proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=Path, required=True, help="The settings file `ccendpoint proxy` wrote.")
    args = parser.parse_args(argv)
    try:
        try:
            data = args.settings.read_bytes()
        finally:
            args.settings.unlink(missing_ok=True)
        listeners = from_handoff(json.loads(data))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write(f"error: cannot read the proxy settings {args.settings}: {exc}\n")
        sys.stderr.write("Start the proxy with `ccendpoint proxy PROVIDER`.\n")
        return 2
    except CcendpointError as exc:
        Output().error(exc)
        return exc.exit_code
    return serve_main(listeners)
