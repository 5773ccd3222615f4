"""Options that several commands share, spelled once: which VS Code file, --region, --json, --dry-run, --yes.

The file-location options (--edition, --profile, --user-data-dir, --file) go together: every command
that reads or writes VS Code's files takes all four, and :func:`locate` turns them into the file.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ccendpoint.catalog.lookup import find_provider
from ccendpoint.catalog.model import Catalog
from ccendpoint.errors import UsageError
from ccendpoint.vscode import paths
from ccendpoint.vscode.facts import EDITION_NAMES
from ccendpoint.vscode.paths import FileRequest, Location


class EditionChoice(str, Enum):
    stable = "stable"
    insiders = "insiders"
    vscodium = "vscodium"


EditionOpt = Annotated[
    Optional[EditionChoice],  # noqa: UP045
    typer.Option("--edition", help="VS Code edition whose file to use (default: stable)."),
]
ProfileOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--profile", help="VS Code profile name (default: the default profile).", metavar="NAME"),
]
UserDataOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--user-data-dir", help="VS Code's user-data folder (as in `code --user-data-dir`).", metavar="DIR"),
]
FileOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--file", help="Use this chatLanguageModels.json (any path).", metavar="PATH"),
]
ProviderArg = Annotated[str, typer.Argument(help="Provider id or alias, e.g. kimi.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the plan and the diff; write nothing.")]


def yes_option(text: str) -> Any:
    """``--yes``/``-y``; what it answers yes to differs per command, so each says it in ``text``."""
    return typer.Option("--yes", "-y", help=text)


def file_request(
    edition: EditionChoice | None, profile: str | None, user_data_dir: Path | None, file: Path | None
) -> FileRequest:
    """The file options of a command, ``~`` expanded, as :mod:`ccendpoint.vscode.paths` takes them."""
    return FileRequest(
        edition=edition.value if edition else None,
        profile=profile,
        user_data_dir=str(user_data_dir.expanduser()) if user_data_dir else None,
        file=str(file.expanduser()) if file else None,
    )


def locate(request: FileRequest) -> Location:
    """The file the options name, on this machine."""
    return paths.locate(request, sys.platform, os.environ, paths.read_storage)


def describe(location: Location) -> str:
    """The file and how it was chosen, in a line: ``…/chatLanguageModels.json (VS Code, default profile)``."""
    if location.how == "--file":
        return location.path
    edition = EDITION_NAMES[location.edition or "stable"]
    profile = f'profile "{location.profile}"' if location.profile else "default profile"
    how = "" if location.how == "default" else f", {location.how}"
    return f"{location.path} ({edition}, {profile}{how})"


def split_regions(values: list[str], catalog: Catalog) -> tuple[str | None, dict[str, str]]:
    """``--region`` values: at most one plain REGION, and PROVIDER=REGION pairs keyed by provider id."""
    plain: list[str] = []
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, chosen = value.partition("=")
        if not sep:
            plain.append(value)
            continue
        if not name.strip() or not chosen.strip():
            raise UsageError(
                f"--region {value}: expected PROVIDER=REGION.",
                hint="Example: --region kimi=china (`ccendpoint show PROVIDER` lists the regions).",
            )
        pairs[find_provider(catalog, name.strip()).id] = chosen.strip()
    if len(plain) > 1:
        raise UsageError(
            f"--region given {len(plain)} times without a provider ({', '.join(plain)}).",
            hint="Give one region, or name each provider: --region kimi=china --region qwen=intl.",
        )
    return (plain[0] if plain else None), pairs
