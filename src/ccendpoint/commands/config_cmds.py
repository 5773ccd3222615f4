"""``ccendpoint add``, ``remove``, ``backups`` and ``restore``: VS Code's chatLanguageModels.json.

Each command finds the file, plans the change (pure), validates the result, shows the plan and only
then writes: backup, atomic write, ownership record.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ccendpoint.commands import common
from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.vscode import backups as backups_store
from ccendpoint.vscode import ownership

if TYPE_CHECKING:
    from ccendpoint.catalog.model import Provider
    from ccendpoint.vscode.blocks import GroupOptions
    from ccendpoint.vscode.paths import FileRequest, Location
    from ccendpoint.vscode.plan import Plan
    from ccendpoint.vscode.store import FileState, WriteResult
    from ccendpoint.vscode.validate import Problem


class EditionChoice(str, Enum):
    stable = "stable"
    insiders = "insiders"
    vscodium = "vscodium"


class ModeChoice(str, Enum):
    proxy = "proxy"
    direct = "direct"


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
ModelsOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--models", help="Only these model ids, comma-separated.", metavar="ID,ID"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the plan as JSON on stdout.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the plan and the diff; write nothing.")]

KEY_STEP = (
    "Set the API key in VS Code: Command Palette → Chat: Manage Language Models → right-click the "
    '"{group}" group → Update API Key.'
)
PROXY_STEP = "Start the proxy and keep it running while you chat: {command}"
SERVICE_STEP = " (or have it start at every login: {command})"
RELOAD_STEP = "If the models do not show up in the model picker: Command Palette → Developer: Reload Window."

EDITION_NAMES = {"stable": "VS Code", "insiders": "VS Code Insiders", "vscodium": "VSCodium"}
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


# --- shared steps ---------------------------------------------------------------------------------


def file_request(
    edition: EditionChoice | None, profile: str | None, user_data_dir: Path | None, file: Path | None
) -> FileRequest:
    """The file options of a command, ``~`` expanded, as :mod:`ccendpoint.vscode.paths` takes them."""
    from ccendpoint.vscode.paths import FileRequest

    return FileRequest(
        edition=edition.value if edition else None,
        profile=profile,
        user_data_dir=str(user_data_dir.expanduser()) if user_data_dir else None,
        file=str(file.expanduser()) if file else None,
    )


def locate(
    edition: EditionChoice | None, profile: str | None, user_data_dir: Path | None, file: Path | None
) -> Location:
    import os

    from ccendpoint.vscode.paths import locate as find
    from ccendpoint.vscode.paths import read_storage

    return find(file_request(edition, profile, user_data_dir, file), sys.platform, os.environ, read_storage)


def describe(location: Location) -> str:
    if location.how == "--file":
        return location.path
    edition = EDITION_NAMES[location.edition or "stable"]
    profile = f'profile "{location.profile}"' if location.profile else "default profile"
    how = "" if location.how == "default" else f", {location.how}"
    return f"{location.path} ({edition}, {profile}{how})"


def warn(message: str) -> None:
    from rich.markup import escape

    common.err_console().print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def interactive() -> bool:
    return sys.stdin.isatty()


def split_ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise UsageError("--models is empty.", hint="Give model ids separated by commas, e.g. --models a,b.")
    return ids


def check_problems(plan: Plan, force: bool) -> list[str]:
    """Refuse a result VS Code would reject; problems already in the file pass with ``--force``."""
    from ccendpoint.vscode.document import parse
    from ccendpoint.vscode.validate import validate

    after = validate(parse(plan.new_text).value) if plan.new_text.strip() else []
    if not after:
        return []
    before = set(validate(parse(plan.old_text).value)) if plan.old_text.lstrip("\ufeff").strip() else set()
    introduced = [p for p in after if p not in before]
    if introduced or not force:
        raise CcendpointError(_problem_text(after, before), hint=_problem_hint(introduced))
    return [f"already in the file, left as it is: {p}" for p in after]


def _problem_text(after: list[Problem], before: set[Problem]) -> str:
    lines = [f"The result would not be valid for VS Code ({len(after)} problem(s)); nothing was written:"]
    lines += [f"  - {p}" + ("  (already in the file)" if p in before else "") for p in after]
    return "\n".join(lines)


def _problem_hint(introduced: list[Problem]) -> str:
    if introduced:
        return "Fix the options (or the catalog entry) that cause these problems, then run again."
    return (
        "These problems were in the file before; fix them in VS Code (Chat: Open Language Models (JSON)), "
        "or add --force to write anyway and leave them as they are."
    )


def plan_lines(plan: Plan) -> list[str]:
    from rich.markup import escape

    lines = []
    for change in plan.changes:
        symbol, style = SYMBOLS[change.action]
        what = change.model if change.model else f'group "{change.group}"'
        detail = f" — {change.detail}" if change.detail else ""
        lines.append(f"  [{style}]{symbol} {escape(what)}: {LABELS[change.action]}{escape(detail)}[/{style}]")
    return lines


def print_diff(diff: str) -> None:
    """The diff, coloured; tabs shown four columns wide, and a line longer than the terminal wraps."""
    from rich.text import Text

    out = common.console()
    for line in diff.splitlines():
        style = "bold" if line.startswith(("---", "+++")) else None
        if style is None:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        out.print(Text(line.expandtabs(4), style=style or "", overflow="fold"))


def plan_data(plan: Plan, location: Location, state: FileState, **extra: Any) -> dict[str, Any]:
    from ccendpoint.vscode.plan import unified_diff

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
    from rich.markup import escape

    from ccendpoint.vscode.plan import unified_diff

    out = common.console()
    out.print(f"[bold]{escape(title)}[/bold]")
    out.print(f"File: {escape(describe(location))}" + ("" if state.exists else " — new file"))
    for line in plan_lines(plan):
        out.print(line)
    if plan.changed:
        print_diff(unified_diff(plan.old_text, plan.new_text, state.path.name))


def ask(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not interactive():
        return False
    return typer.confirm(question, default=False, err=True)


def written_line(state: FileState, result: WriteResult) -> str:
    saved = f" (previous version saved as backup {result.backup.id})" if result.backup else ""
    link = f" → {state.target}" if state.path.is_symlink() else ""
    return f"Wrote {state.path}{link}{saved}."


# --- add ------------------------------------------------------------------------------------------


def _with_discovered(prov: Provider, region: str | None) -> Provider:
    """The provider plus the served models the catalog does not know (``add --discover``)."""
    import dataclasses
    import datetime as dt
    import os

    from ccendpoint.catalog.drift import DriftFailure, compare, discovered_models, fetch_served, models_url
    from ccendpoint.doctor.live import api_key

    key, _ = api_key(prov, os.environ)
    if key is None:
        names = " or ".join(prov.key_env) or "the provider's key variable"
        raise UsageError(
            f"--discover asks {prov.group_name} which models it serves, and needs its key.", hint=f"Set {names}."
        )
    if region is not None and region not in prov.endpoints:
        raise UsageError(
            f"Unknown region '{region}' for {prov.group_name}.", hint=f"Known regions: {', '.join(prov.endpoints)}."
        )
    url = models_url(prov.endpoint(region).url)
    try:
        served = fetch_served(url, key)
    except DriftFailure as failure:
        raise CcendpointError(f"--discover: {failure.message}.", hint=failure.hint or None) from None
    unknown = compare(prov, served.ids).unknown
    err = common.err_console()
    if not unknown:
        err.print(f"--discover: {prov.group_name} serves nothing the catalog does not know.", markup=False)
        return prov
    err.print(
        f"--discover: adding {len(unknown)} served model(s) the catalog does not know, with conservative "
        f"settings (no vision, no tools, VS Code's default limits; edit them in VS Code if they can do more): "
        + ", ".join(unknown),
        markup=False,
    )
    extra = discovered_models(prov, unknown, url, dt.date.today().isoformat())
    return dataclasses.replace(prov, models=prov.models + extra)


def add(
    ctx: typer.Context,
    provider: ProviderArg,
    models: ModelsOpt = None,
    all_models: Annotated[bool, typer.Option("--all", help="Also add deprecated models.")] = False,
    mode: Annotated[
        Optional[ModeChoice],  # noqa: UP045
        typer.Option("--mode", help="proxy: models call the local proxy; direct: the provider's URL."),
    ] = None,
    region: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--region",
            help="Endpoint region (see `ccendpoint show`): the URL in direct mode, the proxy's upstream in proxy mode.",
        ),
    ] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Proxy port (default: the catalog's).")] = None,  # noqa: UP045
    group: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--group", help="Group name in VS Code (default: the catalog's).", metavar="NAME"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace entries you edited or that ccendpoint did not write; allow direct mode."),
    ] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Answer yes: replace conflicting entries without asking.")
    ] = False,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
    discover: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Also add models the provider serves (GET /models, key from the environment) that the catalog "
            "does not know yet, with conservative settings: no vision, no tools, VS Code's default limits.",
        ),
    ] = False,
) -> None:
    """Add a provider's models to VS Code's chatLanguageModels.json, keeping everything else in it.

    Only the provider's group is touched: other groups, comments, your own models, settings and the
    group's API key reference stay exactly as they are. No API key is ever written.

    Example: ccendpoint add kimi --models kimi-k2.6 --dry-run
    """
    from ccendpoint.catalog.lookup import find_provider
    from ccendpoint.vscode.blocks import GroupOptions, direct_mode_warning, render_group, resolve_mode

    if models and all_models:
        raise UsageError("--models and --all do not go together.", hint="Use one of them.")
    prov = find_provider(common.catalog(ctx), provider)
    if discover:
        prov = _with_discovered(prov, region)
    options = GroupOptions(
        mode=mode.value if mode else None,
        region=region,
        port=port,
        group_name=group,
        model_ids=split_ids(models),
        include_deprecated=all_models,
        force=force,
    )
    desired = render_group(prov, options)
    chosen_mode = resolve_mode(prov, options)
    location = locate(edition, profile, user_data_dir, file)
    warnings = list(location.warnings)
    if chosen_mode == "direct" and (note := direct_mode_warning(prov)):
        warnings.append(note)
    if chosen_mode == "direct" and port is not None:
        warnings.append(f"--port {port} is not used in direct mode: the models call {prov.name} directly.")
    # a provider that only an overlay named with --catalog defines needs that flag again to start its proxy
    overlays = common.state(ctx).catalog_paths if prov.origin != "bundled" else []
    _run_add(
        prov,
        desired,
        chosen_mode,
        options,
        location,
        warnings,
        force=force,
        yes=yes,
        dry_run=dry_run,
        as_json=as_json,
        overlays=overlays,
    )


def _run_add(
    prov: Provider,
    desired: dict[str, Any],
    mode: str,
    options: GroupOptions,
    location: Location,
    warnings: list[str],
    *,
    force: bool,
    yes: bool,
    dry_run: bool,
    as_json: bool,
    overlays: Sequence[Path] = (),
    with_steps: bool = True,
) -> tuple[Plan, WriteResult | None]:
    """Plan, show and write the group (``setup`` calls it too, and prints its own next steps)."""
    from ccendpoint.commands.layout import progress
    from ccendpoint.vscode import store
    from ccendpoint.vscode.facts import VENDOR
    from ccendpoint.vscode.plan import plan_add

    state = store.read_file(Path(location.path))
    record = ownership.load_record(state.key, VENDOR, desired["name"])

    def make(confirm: bool) -> Plan:
        return plan_add(state.text, desired, record, prov.id, force=force, confirm=confirm, source=str(state.path))

    with progress(f"Planning the change to {state.path.name}…"):  # a large file takes a moment
        plan = make(confirm=yes)
        warnings += check_problems(plan, force)
    steps = next_steps(prov, plan, mode, options, overlays) if with_steps else []
    title = f'{prov.name} → group "{plan.group}" ({mode} mode)'
    if not as_json:
        for message in warnings:
            warn(message)
        show_plan(plan, location, state, title)
    if plan.conflicts and not dry_run:
        plan = _settle_conflicts(plan, make, location, state, as_json)
        warnings += check_problems(plan, force)
    result = None if dry_run else store.apply_plan(state.path, plan, state)
    _report(plan, location, state, result, steps, warnings, mode=mode, dry_run=dry_run, as_json=as_json)
    return plan, result


def _settle_conflicts(
    plan: Plan, make: Callable[[bool], Plan], location: Location, state: FileState, as_json: bool
) -> Plan:
    """Replace entries ccendpoint did not write only after a yes on the terminal."""
    ids = ", ".join(plan.models_with("conflict"))
    if not as_json and ask(f"Replace {ids} with the catalog's entries? (the file is backed up first)", yes=False):
        replanned = make(True)
        show_plan(replanned, location, state, "Updated plan")
        return replanned
    if as_json:
        common.print_json(plan_data(plan, location, state, written=False, warnings=[]))
    raise CcendpointError(
        f"{ids}: already in the group with other values, and not written by ccendpoint; nothing was written.",
        hint="Add --force (or --yes) to replace them with the catalog's entries, or leave them out with --models.",
    )


def has_api_key(plan: Plan) -> bool:
    """True when the group, as the plan leaves it, has an ``apiKey`` (VS Code added it: the key is set)."""
    from ccendpoint.vscode.document import parse
    from ccendpoint.vscode.groups import find_group

    found = find_group(parse(plan.new_text), plan.vendor, plan.group) if plan.new_text.strip() else None
    return found is not None and "apiKey" in found[1].value.value


def next_steps(
    prov: Provider, plan: Plan, mode: str, options: GroupOptions, overlays: Sequence[Path] = ()
) -> list[str]:
    steps = []
    if not has_api_key(plan):
        steps.append(KEY_STEP.format(group=plan.group))
    if mode == "proxy":
        step = PROXY_STEP.format(command=proxy_command(prov, options, overlays))
        if options.port is None:  # the service listens on the catalog's port
            step += SERVICE_STEP.format(command=proxy_command(prov, options, overlays, service=True))
        steps.append(step)
    steps.append(RELOAD_STEP)
    return steps


def proxy_command(
    prov: Provider, options: GroupOptions, overlays: Sequence[Path] = (), *, service: bool = False
) -> str:
    """The ``ccendpoint proxy`` command that serves the URL ``add`` wrote: same catalog, port and region.

    ``service``: the ``ccendpoint service install`` command that runs that proxy at every login.
    """
    import shlex

    parts = ["ccendpoint"]
    for path in overlays:
        parts += ["--catalog", shlex.quote(str(path))]
    parts += ["service", "install", prov.id] if service else ["proxy", prov.id]
    if options.port is not None:
        parts += ["--port", str(options.port)]
    if options.region is not None:
        parts += ["--region", options.region]
    return " ".join(parts)


def _report(
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
    if as_json:
        from ccendpoint.redact import redact

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
    if steps:
        out.print("[bold]Next steps[/bold]")
        for number, step in enumerate(steps, 1):
            out.print(f"  {number}. {step}", markup=False)


# --- remove ---------------------------------------------------------------------------------------


def remove(
    ctx: typer.Context,
    provider: ProviderArg,
    models: ModelsOpt = None,
    group: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--group", help="Group name (default: the group ccendpoint wrote for it).", metavar="NAME"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also remove entries you edited, or that ccendpoint has no record of.")
    ] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
) -> None:
    """Remove the models ccendpoint added for a provider; the group goes once nothing else is in it.

    Models you added yourself, and entries you edited, stay (--force removes edited ones too).

    Example: ccendpoint remove kimi --models kimi-k2.6 --dry-run
    """
    from ccendpoint.catalog.lookup import find_provider
    from ccendpoint.vscode import store
    from ccendpoint.vscode.facts import VENDOR
    from ccendpoint.vscode.removal import plan_remove

    prov = find_provider(common.catalog(ctx), provider)
    if group is not None and not group.strip():
        raise UsageError("--group is empty.", hint="Name the group to remove from, or leave --group out.")
    location = locate(edition, profile, user_data_dir, file)
    state = store.read_file(Path(location.path))
    name = group if group is not None else _recorded_group(prov, state)
    record = ownership.load_record(state.key, VENDOR, name)
    plan = plan_remove(
        state.text,
        VENDOR,
        name,
        record,
        [m.id for m in prov.models],
        model_ids=split_ids(models),
        force=force,
        source=str(state.path),
    )
    warnings = list(location.warnings) + list(plan.warnings)
    warnings += check_problems(plan, force)
    if not as_json:
        for message in warnings:
            warn(message)
        show_plan(plan, location, state, f'Remove {prov.name} from group "{name}"')
    result = None if dry_run else store.apply_plan(state.path, plan, state)
    _report(plan, location, state, result, [], warnings, mode=None, dry_run=dry_run, as_json=as_json)


def _recorded_group(prov: Provider, state: FileState) -> str:

    names = sorted({r.name for r in ownership.load_records(state.key) if r.provider == prov.id})
    if len(names) > 1:
        raise UsageError(
            f"ccendpoint wrote {len(names)} groups for {prov.name} to this file: {', '.join(names)}.",
            hint="Pick one with --group NAME.",
        )
    return names[0] if names else prov.group_name


# --- backups and restore --------------------------------------------------------------------------


def backups(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """List the backups ccendpoint made before each write, newest first.

    Example: ccendpoint backups
    """
    from ccendpoint.commands.layout import Column, fit_table

    found = backups_store.list_backups()
    if as_json:
        common.print_json([b.as_dict() for b in found])
        return
    out = common.console()
    if not found:
        out.print(f"No backups yet. They are kept in {backups_store.backups_dir()}.", markup=False)
        return
    rows = []
    for backup in found:
        created = backup.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        rows.append((backup.id, created, f"{backup.size:,} B", backup.target))
    columns = [Column("Backup"), Column("Created", priority=1), Column("Size", "right", priority=2), Column("Copy of")]
    out.print(fit_table(out, columns, rows, title=f"Backups (newest {backups_store.KEEP_BACKUPS} per file are kept)"))
    out.print("Restore one with: ccendpoint restore BACKUP", markup=False)


def restore(
    backup: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Backup id from `ccendpoint backups` (default: the newest backup of the file)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Restore without asking.")] = False,
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
    from ccendpoint.vscode import store
    from ccendpoint.vscode.plan import unified_diff

    chosen, path = _pick_backup(backup, edition, profile, user_data_dir, file)
    state = store.read_file(path)
    data = backups_store.read_backup(chosen)
    out = common.console()
    out.print(f"Backup {chosen.id} of {chosen.target}", markup=False)
    if str(state.target) != chosen.target:
        out.print(f"Restoring it into another file: {path}", markup=False)
    if state.raw == data:
        out.print("The file already holds exactly this backup; nothing to do.")
        return
    print_diff(unified_diff(state.text or "", data.decode("utf-8", errors="replace"), path.name))
    if dry_run:
        out.print("Dry run: nothing was written.")
        return
    if not ask(f"Restore {path} from this backup?", yes):
        raise CcendpointError(
            "Not restored.",
            hint="Add --yes to restore without a question (needed when not run in a terminal).",
        )
    result = store.restore_backup(chosen, path)
    saved = f" The file as it was is in backup {result.backup.id}." if result.backup else ""
    out.print(f"Restored {path} from {chosen.id}.{saved}", markup=False)


def _pick_backup(
    backup: str | None,
    edition: EditionChoice | None,
    profile: str | None,
    user_data_dir: Path | None,
    file: Path | None,
) -> tuple[Any, Path]:
    from ccendpoint.vscode import store

    named = edition is not None or profile is not None or user_data_dir is not None or file is not None
    chosen = backups_store.find_backup(backup) if backup is not None else None
    if chosen is not None and not named:
        return chosen, Path(chosen.target)
    location = locate(edition, profile, user_data_dir, file)
    for message in location.warnings:
        warn(message)
    if chosen is not None:
        return chosen, Path(location.path)
    state = store.read_file(Path(location.path))
    found = backups_store.list_backups(state.key)
    if not found:
        raise CcendpointError(
            f"No backups of {location.path} yet.",
            hint="`ccendpoint backups` lists every backup; name one to restore it.",
        )
    return found[0], Path(location.path)
