"""``ccendpoint service``: install, inspect and remove the proxy's login service, and read its log."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from ccendpoint.catalog.lookup import find_provider
from ccendpoint.catalog.model import Catalog
from ccendpoint.commands import common
from ccendpoint.commands.layout import bullet, indented, progress
from ccendpoint.commands.options import JsonOpt, split_regions
from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.redact import scrub
from ccendpoint.service import manage
from ccendpoint.service.manage import Change, Machine, Status, load_served, log_tail
from ccendpoint.service.spec import Served

app = typer.Typer(
    help="The proxy as a login service: it starts when you log in and keeps running.\n\n"
    "One service process serves every provider it was installed for, each on its own port.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

#: Exit codes of ``service status``: running and answering, failed or broken, not running.
EXIT_BROKEN = 1
EXIT_NOT_RUNNING = 3
LOG_LINES = 40

ProvidersArg = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(help="Provider ids or aliases, e.g. kimi qwen.", metavar="[PROVIDER]...", show_default=False),
]


def machine() -> Machine:
    return Machine.current()


# -- install ---------------------------------------------------------------------------------------------


@app.command("install")
def install(
    ctx: typer.Context,
    providers: ProvidersArg = None,
    all_providers: Annotated[bool, typer.Option("--all", help="Serve every provider that has a proxy port.")] = False,
    region: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--region",
            help="A provider's region: PROVIDER=REGION (repeatable), or REGION with one provider.",
            metavar="REGION",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Install the proxy as a login service (or update it), start it and check that it answers.

    Providers add to the ones the service already serves. Without providers, the service is
    written again for the ones it serves (after ccendpoint moved, say). Linux: a systemd user unit,
    or an XDG autostart entry where no user systemd runs; macOS: a launchd agent; Windows: a
    logon task. The service reads .env in the config folder, not your shell's variables.

    Example: ccendpoint service install kimi

    Example: ccendpoint service install qwen --region qwen=us
    """
    cat = common.catalog(ctx)
    box = machine()
    served = requested(cat, load_served(box), providers or [], all_providers, region or [], ctx)
    status, change = install_and_wait(box, cat, served, quiet=as_json)
    if as_json:
        common.print_json({"changed": change.changed, **status.as_dict()})
    else:
        report_install(common.console(), status, change)
    if not status.healthy:
        raise typer.Exit(EXIT_BROKEN)


def requested(
    catalog: Catalog,
    current: Served,
    names: list[str],
    every: bool,
    regions: list[str],
    ctx: typer.Context,
) -> Served:
    """The providers the service is to serve: those it serves plus the ones named (checked)."""
    if every and names:
        raise UsageError(
            "Name providers or use --all, not both.",
            hint="`--all` already serves every provider that has a proxy port.",
        )
    chosen = []
    for name in names:
        provider = find_provider(catalog, name)
        if provider.proxy_port is None:
            raise UsageError(
                f"{provider.group_name} has no proxy port in the catalog, so the service cannot serve it.",
                hint=f"Run it in a terminal with a port of your choice: ccendpoint proxy {provider.id} --port PORT.",
            )
        chosen.append(provider.id)
    plain, by_provider = split_regions(regions, catalog)
    if plain is not None:
        if len(chosen) != 1:
            raise UsageError(
                f"--region {plain} needs one provider to go with.",
                hint="Name the provider: --region kimi=china.",
            )
        by_provider[chosen[0]] = plain
    for provider_id, region in by_provider.items():
        provider = find_provider(catalog, provider_id)
        if region not in provider.endpoints:
            raise UsageError(
                f"{provider.group_name} has no region '{region}'. Known regions: {', '.join(provider.endpoints)}.",
                hint=f"Use one of those, e.g. --region {provider.id}={provider.default_region}.",
            )
    if not chosen and not every and current.empty:
        raise UsageError(
            "Which providers should the service serve?",
            hint="Name them (ccendpoint service install kimi), or use --all.",
        )
    overlays = [str(Path(p).expanduser().resolve()) for p in common.catalog_paths(ctx)]
    return current.merged(chosen, every=every, regions=by_provider, catalogs=overlays)


def install_and_wait(box: Machine, catalog: Catalog, served: Served, *, quiet: bool = False) -> tuple[Status, Change]:
    """Install, then wait (with a spinner on a terminal) until every port answers or the service failed."""
    with progress("Installing the proxy service…"):
        change = manage.install(box, served)
    with progress("Starting the proxy and checking /healthz on each port…"):
        status = manage.wait_until_answering(box, catalog)
    return status, change


def report_install(out: Console, status: Status, change: Change) -> None:
    for path in change.removed:
        out.print(indented(f"Removed {path}: the {change.system} takes its place.", 0))
    if change.changed:
        out.print(indented(f"Installed the proxy as a login service ({change.system}).", 0))
    else:
        out.print(indented(f"The proxy's login service ({change.system}) was in place already; nothing changed.", 0))
    print_status(out, status)
    if change.note:
        out.print(indented(change.note, 0, style="yellow"))
    if status.healthy:
        out.print(
            indented(
                "It starts at every login. `ccendpoint service status` checks it; `ccendpoint service logs` "
                "shows its output.",
                0,
            )
        )
    else:
        explain_trouble(out, status)


# -- status ----------------------------------------------------------------------------------------------


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Say whether the proxy service runs, and probe /healthz on each of its ports.

    Exit code 0 when it runs and every port answers, 1 when it failed or is broken (a port does
    not answer, its program is gone), 3 when it is stopped or not installed.

    Example: ccendpoint service status
    """
    cat = common.catalog(ctx)
    with progress("Checking the proxy service…"):
        found = manage.status(machine(), cat)
    if as_json:
        common.print_json(found.as_dict())
    else:
        out = common.console()
        print_status(out, found)
        if not found.installed:
            out.print(indented("Install it with: ccendpoint service install PROVIDER…", 0))
        elif not found.healthy or found.stale or found.other_program:
            explain_trouble(out, found)
    raise typer.Exit(status_code(found))


def status_code(found: Status) -> int:
    if not found.installed or found.state == "stopped":
        return EXIT_NOT_RUNNING
    if found.state == "failed" or found.stale or not found.healthy:
        return EXIT_BROKEN
    return 0


STATE_STYLES = {"running": "green", "stopped": "yellow", "failed": "red", "not installed": "yellow"}
LISTENER_WORDS = {
    "ccendpoint": "answers /healthz",
    "closed": "nothing listens",
    "other": "another program answers",
    "wrong provider": "wrong proxy",
    "problem": "cannot be checked",
}


def print_status(out: Console, found: Status) -> None:
    line = Text("Proxy service: ")
    line.append(found.state, style=f"bold {STATE_STYLES.get(found.state, '')}")
    if found.detail:
        line.append(f" ({found.detail})")
    out.print(line)
    if not found.installed:
        return
    out.print(indented(f"{found.system}: {found.path}"))
    out.print(indented(f"Runs: {found.program or 'unknown'}" + (" (no longer there)" if found.stale else "")))
    out.print(indented(f"Serves: {found.served.label()}"))
    for listener in found.listeners:
        where = f"127.0.0.1:{listener.port}" if listener.port else "no port"
        words = LISTENER_WORDS.get(listener.state, listener.state)
        detail = f" ({listener.detail})" if listener.detail else ""
        mark = "✓ " if listener.healthy else "✗ "
        style = "green" if listener.healthy else "red"
        out.print(bullet(f"{listener.provider} on {where}: {words}{detail}", 2, mark, marker_style=style))


def explain_trouble(out: Console, found: Status) -> None:
    """What is wrong with an installed service, and the command that fixes it."""
    hints: list[str] = []
    if found.stale:
        hints.append(
            f"The service runs {found.program}, which is gone (pipx reinstalled or moved ccendpoint). "
            "Fix: ccendpoint service install"
        )
    elif found.other_program:
        hints.append(
            f"The service runs {found.program}, not this ccendpoint ({found.current_program}). "
            "To switch it to this one: ccendpoint service install"
        )
    taken = [x for x in found.listeners if x.state in ("other", "wrong provider")]
    answering = [x for x in found.listeners if x.healthy]
    if answering and found.state != "running":
        ports = ", ".join(str(x.port) for x in answering)
        hints.append(
            f"Port {ports} answers, but not from the service: a proxy started by hand (in a terminal?) "
            "holds it. Stop that one, then run: ccendpoint service install"
        )
    for listener in taken:
        hints.append(
            f"Port {listener.port} is held by {listener.detail or 'another program'}. Stop it, or give "
            f"{listener.provider} another port in the config folder's .env, then: ccendpoint service install"
        )
    if not hints and not found.healthy:
        hints.append("See why in its output: ccendpoint service logs")
    for hint in hints:
        out.print(indented(hint, 0, style="yellow"))
    tail = log_tail(10, Path(found.log_file)) if found.log_file else []
    if tail and not found.healthy:
        out.print("[dim]Last lines of the service log:[/dim]")
        for text in tail:
            out.print(indented(text, 2, style="dim"))


# -- uninstall ------------------------------------------------------------------------------------------


@app.command("uninstall")
def uninstall(ctx: typer.Context, providers: ProvidersArg = None) -> None:
    """Stop the proxy service and remove it; with providers, stop serving only those.

    Example: ccendpoint service uninstall

    Example: ccendpoint service uninstall qwen
    """
    names = providers or []
    ids = [find_provider(common.catalog(ctx), name).id for name in names] if names else []
    box = machine()
    out = common.console()
    change = manage.uninstall(box, ids)
    if change is None:
        out.print("The proxy service is not installed; nothing to remove.")
        return
    if ids and manage.status(box, None, probe=False).installed:
        out.print(indented(f"The proxy service no longer serves {', '.join(ids)}; it was updated and restarted.", 0))
        return
    out.print(indented(f"Removed the proxy service ({change.system}: {change.path}).", 0))
    out.print(indented("Models that use the local proxy need `ccendpoint proxy PROVIDER` in a terminal now.", 0))


# -- logs -------------------------------------------------------------------------------------------------


@app.command("logs")
def logs(
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many of the last lines to show.", min=1)] = LOG_LINES,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl+C.")] = False,
) -> None:
    """Show the proxy service's own output: start-up lines, warnings and errors.

    Requests are in the proxy's request logs (`ccendpoint usage` reads them).

    Example: ccendpoint service logs -n 100
    """
    path = machine().log_file
    if not path.exists():
        raise CcendpointError(
            f"No service log yet ({path}).",
            hint="The log appears once the service has started: ccendpoint service install PROVIDER",
        )
    show = _log_printer()
    for text in log_tail(lines, path):
        show(text)
    if not follow:
        return
    with path.open("rb") as handle:
        handle.seek(0, 2)
        try:
            while True:
                chunk = handle.readline()
                if chunk:
                    show(scrub(chunk.decode("utf-8", "replace").rstrip("\n")))
                else:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            return


def _log_printer() -> Callable[[str], None]:
    """Log lines wrapped at the terminal's width (or COLUMNS); exactly as written when piped."""
    out = common.console()
    if out.is_terminal or os.environ.get("COLUMNS"):
        return lambda line: out.print(Text(line, overflow="fold"))

    def raw(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return raw
