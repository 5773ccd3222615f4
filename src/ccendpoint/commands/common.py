"""What every command shares: the loaded catalog, the consoles, JSON output, warnings and questions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ccendpoint.catalog import installed
from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Catalog

_CATALOG = "ccendpoint.catalog"  # where the loaded catalog is kept for the rest of the run (ctx.meta)


def catalog_paths(ctx: typer.Context) -> list[Path]:
    """The ``--catalog`` paths given before the command name (``ccendpoint --catalog X list``)."""
    return list(ctx.find_root().params.get("catalog") or [])


def catalog(ctx: typer.Context) -> Catalog:
    """The catalog with the ``--catalog`` overlays, loaded once per run."""
    meta = ctx.find_root().meta
    if _CATALOG not in meta:
        meta[_CATALOG] = load_catalog(catalog_paths(ctx))
    found: Catalog = meta[_CATALOG]
    return found


#: Width used when output goes to a file or a pipe, where rich would otherwise assume 80 columns.
#: ``COLUMNS`` in the environment wins, on a terminal and off it (``COLUMNS=80 ccendpoint list | less``).
PIPE_WIDTH = 160


def _width(is_terminal: bool) -> int | None:
    """The width to force, if any: ``COLUMNS`` when set, else :data:`PIPE_WIDTH` off a terminal."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if is_terminal else PIPE_WIDTH


def console() -> Console:
    out = Console(highlight=False)
    width = _width(out.is_terminal)
    if width is not None and width != out.width:
        out = Console(highlight=False, width=width)
    return out


def err_console() -> Console:
    err = Console(stderr=True, highlight=False)
    width = _width(err.is_terminal)
    if width is not None and width != err.width:
        err = Console(stderr=True, highlight=False, width=width)
    return err


def print_json(data: Any) -> None:
    """Machine-readable output on stdout: plain JSON, no colours, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def warn(message: str) -> None:
    """A warning on stderr, never read as markup."""
    err_console().print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def warn_if_stale() -> None:
    """A warning on stderr when the active catalog is older than the freshness limit."""
    warning = installed.active().stale_warning()
    if warning:
        err_console().print(f"warning: {warning}", markup=False)


def interactive() -> bool:
    """A person can answer a question: stdin is a terminal."""
    return sys.stdin.isatty()


def ask(question: str, yes: bool) -> bool:
    """Yes when ``yes`` (--yes) was given, or the person says so; no when nobody can be asked."""
    if yes:
        return True
    if not interactive():
        return False
    return typer.confirm(question, default=False, err=True)
