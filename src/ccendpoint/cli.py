"""The ``ccendpoint`` command line: the root command, and a registry that loads each command on use.

A command's module is imported only when that command runs or its help is shown, so ``--help``
lists every command from the one-line help kept here, and ``list`` loads the catalog commands
alone (never aiohttp, orjson or jsonschema; benchmarks/startup.py measures it).
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from ccendpoint import __version__
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
  ccendpoint export litellm kimi # a team gateway's config (LiteLLM)
"""


@dataclass(frozen=True)
class Entry:
    """Where a command lives: ``module.attribute`` is its function, or the Typer app of a command group."""

    module: str
    attribute: str
    help: str  # the first line of its help, as ``ccendpoint --help`` lists it


COMMANDS: dict[str, Entry] = {
    "setup": Entry(
        "ccendpoint.commands.setup_cmd",
        "setup",
        "Set up a provider in VS Code in one go: region, models, proxy service, utility models.",
    ),
    "list": Entry("ccendpoint.commands.catalog_cmds", "list_models", "List the providers and models in the catalog."),
    "show": Entry(
        "ccendpoint.commands.catalog_cmds",
        "show",
        "Show a provider in full: endpoints, key, proxy rules, troubleshooting, and the VS Code group.",
    ),
    "add": Entry(
        "ccendpoint.commands.add_remove",
        "add",
        "Add a provider's models to VS Code's chatLanguageModels.json, keeping everything else in it.",
    ),
    "remove": Entry(
        "ccendpoint.commands.add_remove",
        "remove",
        "Remove the models ccendpoint added for a provider; the group goes once nothing else is in it.",
    ),
    "backups": Entry(
        "ccendpoint.commands.backup_cmds",
        "show_backups",
        "List the backups ccendpoint made before each write, newest first.",
    ),
    "restore": Entry(
        "ccendpoint.commands.backup_cmds",
        "restore",
        "Put a backup of VS Code's file back in place; the file as it is now is backed up first.",
    ),
    "usage": Entry(
        "ccendpoint.commands.usage_cmd",
        "usage",
        "Show token usage and cost per day and model, read from the proxy's request logs.",
    ),
    "doctor": Entry(
        "ccendpoint.commands.doctor_cmd",
        "doctor",
        "Check VS Code's chatLanguageModels.json, keys, the catalog, the proxies, settings and logs.",
    ),
    "proxy": Entry(
        "ccendpoint.commands.proxy_cmd",
        "proxy",
        "Run the local proxy that fixes each request for the provider, as the catalog says.",
    ),
    "catalog": Entry(
        "ccendpoint.commands.catalog_app",
        "app",
        "Check the catalog against the providers, and install a newer catalog without a release.",
    ),
    "service": Entry(
        "ccendpoint.commands.service_cmd",
        "app",
        "The proxy as a login service: it starts when you log in and keeps running.",
    ),
    "export": Entry(
        "ccendpoint.commands.export_cmd",
        "app",
        "Write the catalog in another tool's format (a LiteLLM gateway's config).",
    ),
}


def load(name: str) -> Any:
    """The click command for ``name``, its module imported now."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        group = get_group(target)
        group.name = name
        return group
    return get_command_from_info(
        CommandInfo(name=name, callback=target), pretty_exceptions_short=True, rich_markup_mode=None
    )


class LazyCommands(MutableMapping[str, Any]):
    """The root's commands by name, as click reads them; a command's module is imported on first access."""

    def __init__(self, added: Mapping[str, Any]) -> None:
        self._loaded = dict(added)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMANDS), **self._loaded})

    def __len__(self) -> int:
        return len({**dict.fromkeys(COMMANDS), **self._loaded})


class _Group(TyperGroup):
    """The root command: its commands load on use, and a :class:`CcendpointError` becomes a message on
    stderr and its exit code, never a traceback."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # from the registry's one-line help: listing the commands must not import them
        rows = [(name, TyperCommand(name=name, help=entry.help)) for name, entry in COMMANDS.items()]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CcendpointError as exc:
            err = _err_console()
            err.print(f"[bold red]error:[/bold red] {_escape(exc.message)}")
            if exc.hint:
                err.print(exc.hint, markup=False)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # last resort: a file problem no command turned into a CcendpointError
            if exc.errno == errno.EPIPE:  # output piped into `head`: click ends quietly
                raise
            where = f": {exc.filename}" if exc.filename else ""
            err = _err_console()
            err.print(f"[bold red]error:[/bold red] {_escape(f'{exc.strerror or exc}{where}')}", soft_wrap=True)
            err.print("Check that the path exists and that you may use it (ls -ld), then run again.", markup=False)
            ctx.exit(1)


def _err_console() -> Any:
    from ccendpoint.commands import common  # start-up: `--help` loads no command code, and no rich

    return common.err_console()


def _escape(text: str) -> str:
    from rich.markup import escape  # start-up: `--help` never imports rich

    return escape(text)


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
    """The options before the command name; commands read ``--catalog`` from the root context."""


def main() -> None:
    """Entry point of the ``ccendpoint`` script and ``python -m ccendpoint``."""
    app()
