"""Helpers every command shares: the loaded catalog, consoles, JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ccendpoint.catalog.model import Catalog


@dataclass
class State:
    """Options given before the command name (``ccendpoint --catalog X list``)."""

    catalog_paths: list[Path] = field(default_factory=list)
    _catalog: Catalog | None = None


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def catalog(ctx: typer.Context) -> Catalog:
    from ccendpoint.catalog.loader import load_catalog

    st = state(ctx)
    if st._catalog is None:
        st._catalog = load_catalog(st.catalog_paths)
    return st._catalog


#: Width used when output goes to a file or a pipe, where rich would otherwise assume 80 columns.
#: ``COLUMNS`` in the environment wins, on a terminal and off it (``COLUMNS=80 ccendpoint list | less``).
PIPE_WIDTH = 160


def _width(is_terminal: bool) -> int | None:
    """The width to force, if any: ``COLUMNS`` when set, else :data:`PIPE_WIDTH` off a terminal."""
    import os

    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if is_terminal else PIPE_WIDTH


def console() -> Console:
    from rich.console import Console

    out = Console(highlight=False)
    width = _width(out.is_terminal)
    if width is not None and width != out.width:
        out = Console(highlight=False, width=width)
    return out


def err_console() -> Console:
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    width = _width(err.is_terminal)
    if width is not None and width != err.width:
        err = Console(stderr=True, highlight=False, width=width)
    return err


def print_json(data: Any) -> None:
    """Machine-readable output on stdout: plain JSON, no colours, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def warn_if_stale() -> None:
    """A warning on stderr when the active catalog is older than the freshness limit."""
    from ccendpoint.catalog.bundle import active

    warning = active().stale_warning()
    if warning:
        err_console().print(f"warning: {warning}", markup=False)
