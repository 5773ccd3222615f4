"""How a change to VS Code's file is shown: the changes one per line, the diff, the JSON, the outcome.

``add``, ``remove``, ``setup`` and ``restore`` show their changes the same way; the plan itself is
made in :mod:`ccendpoint.vscode.plan`, and secrets are masked in the diff before it gets here.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text

from ccendpoint.commands import common
from ccendpoint.commands.options import describe
from ccendpoint.redact import redact
from ccendpoint.vscode.paths import Location
from ccendpoint.vscode.plan import Plan, unified_diff
from ccendpoint.vscode.store import FileState, WriteResult

LABELS = {
    "add": "new",
    "update": "update",
    "replace": "replace",
    "unchanged": "unchanged",
    "kept": "kept",
    "conflict": "conflict",
    "remove": "remove",
    "skip": "left alone",
}
SYMBOLS = {
    "add": ("+", "green"),
    "update": ("~", "cyan"),
    "replace": ("~", "yellow"),
    "unchanged": ("=", "dim"),
    "kept": ("!", "yellow"),
    "conflict": ("?", "red"),
    "remove": ("-", "red"),
    "skip": ("·", "dim"),
}


def plan_lines(plan: Plan) -> list[str]:
    """One line of markup per change: symbol, model (or group), what happens and why."""
    lines = []
    for change in plan.changes:
        symbol, style = SYMBOLS[change.action]
        what = change.model if change.model else f'group "{change.group}"'
        detail = f" — {change.detail}" if change.detail else ""
        lines.append(f"  [{style}]{symbol} {escape(what)}: {LABELS[change.action]}{escape(detail)}[/{style}]")
    return lines


def print_diff(diff: str) -> None:
    """The diff, coloured; tabs shown four columns wide, and a line longer than the terminal wraps."""
    out = common.console()
    for line in diff.splitlines():
        style = "bold" if line.startswith(("---", "+++")) else None
        if style is None:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        out.print(Text(line.expandtabs(4), style=style or "", overflow="fold"))


def plan_data(plan: Plan, location: Location, state: FileState, **extra: Any) -> dict[str, Any]:
    """The plan as ``--json`` prints it."""
    return {
        "file": str(state.path),
        "target": str(state.target),
        "edition": location.edition,
        "profile": location.profile,
        "vendor": plan.vendor,
        "group": plan.group,
        "changed": plan.changed,
        "changes": [c.as_dict() for c in plan.changes],
        "diff": unified_diff(plan.old_text, plan.new_text, state.path.name),
        **extra,
    }


def show_plan(plan: Plan, location: Location, state: FileState, title: str) -> None:
    out = common.console()
    out.print(f"[bold]{escape(title)}[/bold]")
    out.print(f"File: {escape(describe(location))}" + ("" if state.exists else " — new file"))
    for line in plan_lines(plan):
        out.print(line)
    if plan.changed:
        print_diff(unified_diff(plan.old_text, plan.new_text, state.path.name))


def written_line(state: FileState, result: WriteResult) -> str:
    saved = f" (previous version saved as backup {result.backup.id})" if result.backup else ""
    link = f" → {state.target}" if state.path.is_symlink() else ""
    return f"Wrote {state.path}{link}{saved}."


def report(
    plan: Plan,
    location: Location,
    state: FileState,
    result: WriteResult | None,
    steps: list[str],
    warnings: list[str],
    *,
    mode: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """What happened, and the steps left (``mode`` None: a removal)."""
    late = result.warning(state.path) if result else None
    if late:
        warnings = [*warnings, late]
    if as_json:
        extra = {
            "mode": mode,
            "dry_run": dry_run,
            "written": bool(result and result.written),
            "backup": result.backup.id if result and result.backup else None,
            "warnings": redact(warnings),
            "next_steps": steps if not dry_run else [],
        }
        common.print_json(plan_data(plan, location, state, **extra))
        return
    out = common.console()
    if dry_run:
        out.print("Dry run: nothing was written." if plan.changed else "Dry run: the file would not change.")
        return
    if result is None or not result.written:
        out.print(
            "Nothing to remove; the file was not changed."
            if mode is None
            else "Already up to date; nothing was written."
        )
    else:
        out.print(written_line(state, result), markup=False)
        if late:
            common.warn(late)
    if steps:
        out.print("[bold]Next steps[/bold]")
        for number, step in enumerate(steps, 1):
            out.print(f"  {number}. {step}", markup=False)
