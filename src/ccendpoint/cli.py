"""The ``ccendpoint`` command line: a thin typer app over the core modules.

Commands import what they need inside their bodies, so ``--help`` and ``list`` stay light
(no aiohttp, no jsonschema unless a catalog file is new).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from ccendpoint import __version__
from ccendpoint.commands import (
    catalog_app,
    catalog_cmds,
    common,
    config_cmds,
    doctor_cmd,
    export_cmd,
    proxy_cmd,
    service_cmd,
    setup_cmd,
    usage_cmd,
)
from ccendpoint.errors import CcendpointError

HELP = """\
Use third-party LLM providers (Kimi, MiMo, Qwen, GLM, MiniMax, Nemotron, DeepSeek) in
VS Code Copilot Chat through its built-in Custom Endpoint provider.

\b
Typical use:
  ccendpoint setup kimi          # first minute: models, proxy service, key
  ccendpoint list                # what the catalog knows
  ccendpoint show kimi           # endpoints, key, proxy rules, the group
  ccendpoint add kimi --dry-run  # preview the change to VS Code's models
  ccendpoint add kimi            # write it (backed up; the rest stays)
  ccendpoint remove kimi         # take out what ccendpoint added
  ccendpoint proxy kimi          # run Kimi's local proxy in this terminal
  ccendpoint catalog drift kimi  # does the catalog match what Kimi serves?
  ccendpoint service status      # the proxy's login service and its ports
  ccendpoint doctor              # what is wrong, and the fix for each one
"""


class _Group(TyperGroup):
    """Turns :class:`CcendpointError` into a message on stderr and its exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CcendpointError as exc:
            from rich.markup import escape

            err = common.err_console()
            err.print(f"[bold red]error:[/bold red] {escape(exc.message)}")
            if exc.hint:
                err.print(exc.hint, markup=False)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # last resort: a file problem no command turned into a CcendpointError
            import errno

            from rich.markup import escape

            if exc.errno == errno.EPIPE:  # output piped into `head`: click ends quietly
                raise
            where = f": {exc.filename}" if exc.filename else ""
            err = common.err_console()
            err.print(f"[bold red]error:[/bold red] {escape(f'{exc.strerror or exc}{where}')}", soft_wrap=True)
            err.print("Check that the path exists and that you may use it (ls -ld), then run again.", markup=False)
            ctx.exit(1)


app = typer.Typer(
    cls=_Group,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ccendpoint {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    catalog: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--catalog",
            help="Extra catalog YAML file or folder (repeatable); overrides the bundled catalog, "
            "the user catalog folder and CCENDPOINT_CATALOG.",
            metavar="PATH",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    common.state(ctx).catalog_paths = list(catalog or [])


app.command("setup")(setup_cmd.setup)
app.command("list")(catalog_cmds.list_models)
app.command("show")(catalog_cmds.show)
app.command("add")(config_cmds.add)
app.command("remove")(config_cmds.remove)
app.command("backups")(config_cmds.backups)
app.command("restore")(config_cmds.restore)
app.command("usage")(usage_cmd.usage)
app.command("doctor")(doctor_cmd.doctor)
app.command("proxy")(proxy_cmd.proxy)
app.add_typer(catalog_app.app, name="catalog")
app.add_typer(service_cmd.app, name="service")
app.add_typer(export_cmd.app, name="export")


def main() -> None:
    """Entry point of the ``ccendpoint`` script and ``python -m ccendpoint``."""
    app()
