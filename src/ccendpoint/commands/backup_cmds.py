"""``ccendpoint backups`` and ``restore``: the copies made before each write, and putting one back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ccendpoint.commands import common
from ccendpoint.commands.changes import print_diff
from ccendpoint.commands.layout import Column, fit_table
from ccendpoint.commands.options import (
    DryRunOpt,
    EditionChoice,
    EditionOpt,
    FileOpt,
    JsonOpt,
    ProfileOpt,
    UserDataOpt,
    file_request,
    locate,
    yes_option,
)
from ccendpoint.errors import CcendpointError
from ccendpoint.vscode import backups, store
from ccendpoint.vscode.backups import Backup
from ccendpoint.vscode.plan import unified_diff


def show_backups(as_json: JsonOpt = False) -> None:
    """List the backups ccendpoint made before each write, newest first.

    Example: ccendpoint backups
    """
    found = backups.list_backups()
    if as_json:
        common.print_json([b.as_dict() for b in found])
        return
    out = common.console()
    if not found:
        out.print(f"No backups yet. They are kept in {backups.backups_dir()}.", markup=False)
        return
    rows = []
    for backup in found:
        created = backup.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        if backup.first:
            created += " (first)"
        rows.append((backup.id, created, f"{backup.size:,} B", backup.target))
    columns = [Column("Backup"), Column("Created", priority=1), Column("Size", "right", priority=2), Column("Copy of")]
    title = f"Backups (per file: the first, and the newest {backups.KEEP_BACKUPS})"
    out.print(fit_table(out, columns, rows, title=title))
    out.print("Restore one with: ccendpoint restore BACKUP", markup=False)


def restore(
    backup: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Backup id from `ccendpoint backups` (default: the newest backup of the file)."),
    ] = None,
    yes: Annotated[bool, yes_option("Restore without asking.")] = False,
    dry_run: DryRunOpt = False,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
) -> None:
    """Put a backup of VS Code's file back in place; the file as it is now is backed up first.

    A named BACKUP goes back to the file it is a copy of; --edition, --profile, --user-data-dir or
    --file restore it into the file they name instead.

    Example: ccendpoint restore --yes
    """
    chosen, path = _pick_backup(backup, edition, profile, user_data_dir, file)
    state = store.read_raw(path)  # a file that is not UTF-8 or not JSON is when a restore matters most
    data = backups.read_backup(chosen)
    out = common.console()
    out.print(f"Backup {chosen.id} of {chosen.target}", markup=False)
    if str(state.target) != chosen.target:
        out.print(f"Restoring it into another file: {path}", markup=False)
    if state.raw == data:
        out.print("The file already holds exactly this backup; nothing to do.")
        return
    current = _as_text(state.raw)
    if current is None:
        out.print(
            f"The file now holds {len(state.raw or b''):,} bytes that are not UTF-8 text; they are backed up "
            "before the restore.",
            markup=False,
        )
    print_diff(unified_diff(current or "", data.decode("utf-8", errors="replace"), path.name))
    if dry_run:
        out.print("Dry run: nothing was written.")
        return
    if not common.ask(f"Restore {path} from this backup?", yes):
        raise CcendpointError(
            "Not restored.",
            hint="Add --yes to restore without a question (needed when not run in a terminal).",
        )
    result = store.restore_backup(chosen, path)
    saved = f" The file as it was is in backup {result.backup.id}." if result.backup else ""
    out.print(f"Restored {path} from {chosen.id}.{saved}", markup=False)
    late = result.warning(path)
    if late:
        common.warn(late)


def _as_text(raw: bytes | None) -> str | None:
    """The file's text for the diff; None when its bytes are not UTF-8."""
    try:
        return (raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        return None


def _pick_backup(
    backup: str | None,
    edition: EditionChoice | None,
    profile: str | None,
    user_data_dir: Path | None,
    file: Path | None,
) -> tuple[Backup, Path]:
    named = edition is not None or profile is not None or user_data_dir is not None or file is not None
    chosen = backups.find_backup(backup) if backup is not None else None
    if chosen is not None and not named:
        return chosen, Path(chosen.target)
    location = locate(file_request(edition, profile, user_data_dir, file))
    for message in location.warnings:
        common.warn(message)
    if chosen is not None:
        return chosen, Path(location.path)
    state = store.read_raw(Path(location.path))
    found = backups.list_backups(state.key)
    if not found:
        raise CcendpointError(
            f"No backups of {location.path} yet.",
            hint="`ccendpoint backups` lists every backup; name one to restore it.",
        )
    return found[0], Path(location.path)
