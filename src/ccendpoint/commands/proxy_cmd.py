"""``ccendpoint proxy``: run the rewriting proxy for one provider, several, or all of them, in one process."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccendpoint.catalog.lookup import find_provider
from ccendpoint.catalog.model import Provider
from ccendpoint.commands import common
from ccendpoint.commands.options import split_regions
from ccendpoint.errors import UsageError
from ccendpoint.proxy.settings import (
    ListenerSettings,
    ProxyOptions,
    handoff_document,
    open_log_files,
    resolve,
    resolve_all,
)

#: The serving process: ``python -m ccendpoint.proxy --settings FILE``.
SERVING_MODULE = "ccendpoint.proxy"


def proxy(
    ctx: typer.Context,
    providers: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Provider ids or aliases, e.g. kimi, or several (kimi qwen), each on its own port. Omit with --all.",
            metavar="[PROVIDER]...",
            show_default=False,
        ),
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
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--region",
            help="Use the catalog's endpoint for this region. With several providers or --all, "
            "name the provider: --region kimi=china (repeatable).",
            metavar="REGION",
            show_default=False,
        ),
    ] = None,
    log: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--log", help="Write the request log (NDJSON) to this file.", metavar="PATH"),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not write a request log file.")] = False,
    trust_upstream: Annotated[
        bool,
        typer.Option(
            "--trust-upstream",
            help="Allow an upstream outside the catalog's endpoints from the environment or a .env, "
            "or plain http to another machine: your API key goes there.",
        ),
    ] = False,
    trust_dotenv: Annotated[
        bool,
        typer.Option(
            "--trust-dotenv",
            help="Let the .env in the working folder choose the upstream and the listening host.",
        ),
    ] = False,
    max_body_mb: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--max-body-mb", help="Largest request body accepted, in MiB (default 16).", metavar="MIB"),
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

    Example: ccendpoint proxy kimi qwen --region kimi=china
    """
    names = list(dict.fromkeys(providers or []))
    if all_providers and names:
        shown = " ".join(names)
        raise UsageError(
            f"Name providers or use --all, not both (got {shown} and --all).",
            hint=f"Run `ccendpoint proxy {shown}` for {'that provider' if len(names) == 1 else 'those providers'}, "
            "or `ccendpoint proxy --all` for every one.",
        )
    if not all_providers and not names:
        raise UsageError(
            "Which provider? Name one or more, or use --all for every provider.",
            hint="Example: ccendpoint proxy kimi (`ccendpoint list` shows the providers).",
        )
    if log is not None and no_log:
        raise UsageError(
            "--log and --no-log contradict each other.",
            hint="Keep --log PATH to write the request log there, or --no-log to write none.",
        )

    cat = common.catalog(ctx)
    chosen: list[Provider] = []
    for name in names:
        found = find_provider(cat, name)
        if all(found.id != other.id for other in chosen):
            chosen.append(found)
    plain_region, regions = split_regions(region or [], cat)
    if len(chosen) == 1 and regions:
        if set(regions) != {chosen[0].id} or plain_region is not None:
            raise UsageError(
                "--region names a provider that is not served here, or gives two regions.",
                hint=f"Use one --region for {chosen[0].id}, e.g. --region {chosen[0].default_region}.",
            )
        plain_region = regions[chosen[0].id]
    options = ProxyOptions(
        port=port,
        host=host,
        upstream=upstream,
        region=plain_region,
        log=log,
        no_log=no_log,
        max_body_mb=max_body_mb,
        first_byte_timeout=first_byte_timeout,
        idle_timeout=idle_timeout,
        trust_upstream=trust_upstream,
        trust_dotenv=trust_dotenv,
    )
    if len(chosen) == 1:
        listeners = [resolve(chosen[0], options)]
    else:
        listeners = resolve_all(cat, options, providers=chosen or None, regions=regions)
    open_log_files(listeners)
    _warn_if_exposed(listeners)
    code = launch(listeners)
    if code:
        raise typer.Exit(code)


def launch(listeners: list[ListenerSettings]) -> int:
    """Serve ``listeners`` through the serving process's entry point (see :mod:`ccendpoint.proxy.process`).

    The checked settings go over in a private temporary file, which the serving process deletes
    once it has read it. On POSIX this process is replaced by ``python -m ccendpoint.proxy`` and
    never returns; otherwise (Windows, or the command run inside another program such as a test)
    the same entry point runs here.
    """
    fd, name = tempfile.mkstemp(prefix="ccendpoint-proxy-", suffix=".json")  # readable by the user only
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(handoff_document(listeners), handle, default=str)
    argv = ["--settings", name]
    if os.name == "posix" and _running_as_the_command():
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.suppress(OSError):  # when exec fails, this process serves instead
            os.execv(sys.executable, [sys.executable, "-m", SERVING_MODULE, *argv])
    from ccendpoint.proxy.process import main  # aiohttp: only when this process serves (see above)

    return main(argv)


def _warn_if_exposed(listeners: list[ListenerSettings]) -> None:
    err = common.err_console()
    for settings in listeners:
        if settings.exposed:
            err.print(
                f"[bold yellow]warning:[/bold yellow] the {settings.provider.id} proxy listens on {settings.host}, "
                "so it is reachable from the network: anyone who can reach this port can send requests "
                "through it with their own key.",
                soft_wrap=True,
            )


def _running_as_the_command() -> bool:
    """True when this process is ``ccendpoint`` itself, not a program that called the command (a test)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name == "ccendpoint.__main__":
        return True
    return Path(sys.argv[0]).stem == "ccendpoint"
