"""``ccendpoint add`` and ``remove``: a provider's group in VS Code's chatLanguageModels.json.

Each command finds the file, plans the change (pure), checks that VS Code would accept the result,
shows the plan and only then writes: backup, atomic write, ownership record. ``setup`` writes its
group through :func:`add_group`, the same path as ``add``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from ccendpoint.catalog.lookup import find_provider
from ccendpoint.catalog.model import Provider
from ccendpoint.commands import common
from ccendpoint.commands.changes import plan_data, report, show_plan
from ccendpoint.commands.layout import progress
from ccendpoint.commands.options import (
    DryRunOpt,
    EditionOpt,
    FileOpt,
    ProfileOpt,
    ProviderArg,
    UserDataOpt,
    file_request,
    locate,
    yes_option,
)
from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.vscode import ownership, store
from ccendpoint.vscode.blocks import GroupOptions, Mode, direct_mode_warning, render_group, resolve_mode
from ccendpoint.vscode.facts import MANAGE_MODELS, RELOAD_WINDOW, UPDATE_API_KEY, VENDOR
from ccendpoint.vscode.gateway import parse_header, render_gateway_group
from ccendpoint.vscode.paths import FileRequest, Location
from ccendpoint.vscode.plan import Plan, plan_add
from ccendpoint.vscode.removal import plan_remove
from ccendpoint.vscode.store import FileState, WriteResult
from ccendpoint.vscode.validate import check_result


class ModeChoice(str, Enum):
    proxy = "proxy"
    direct = "direct"


ModelsOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--models", help="Only these model ids, comma-separated.", metavar="ID,ID"),
]
PlanJsonOpt = Annotated[bool, typer.Option("--json", help="Print the plan as JSON on stdout.")]

PROXY_STEP = "Start the proxy and keep it running while you chat: {command}"
SERVICE_STEP = " (or have it start at every login: {command})"
RELOAD_STEP = f"If the models do not show up in the model picker: Command Palette → {RELOAD_WINDOW}."


def key_step(group: str) -> str:
    return (
        f"Set the API key in VS Code: Command Palette → {MANAGE_MODELS} → right-click the "
        f'"{group}" group → {UPDATE_API_KEY}.'
    )


def split_ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise UsageError("--models is empty.", hint="Give model ids separated by commas, e.g. --models a,b.")
    return ids


# --- add ------------------------------------------------------------------------------------------


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
    as_json: PlanJsonOpt = False,
    yes: Annotated[bool, yes_option("Answer yes: replace conflicting entries without asking.")] = False,
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
    gateway: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--gateway",
            help="Your team's LiteLLM gateway (its https address): the models call it instead of the provider "
            "or a local proxy, by their catalog ids (see `ccendpoint export litellm`). Set the gateway's key "
            "in VS Code afterwards.",
            metavar="URL",
        ),
    ] = None,
    gateway_header: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--gateway-header",
            help="With --gateway: a header the models send, NAME=VALUE (repeatable; default "
            "'Authorization=Bearer ${apiKey}'). VS Code puts the key where ${apiKey} stands.",
            metavar="NAME=VALUE",
        ),
    ] = None,
) -> None:
    """Add a provider's models to VS Code's chatLanguageModels.json, keeping everything else in it.

    Only the provider's group is touched: other groups, comments, your own models, settings and the
    group's API key reference stay exactly as they are. No API key is ever written.

    Example: ccendpoint add kimi --models kimi-k2.6 --dry-run

    Example: ccendpoint add kimi --gateway https://llm.example.com
    """
    if models and all_models:
        raise UsageError("--models and --all do not go together.", hint="Use one of them.")
    target = gateway_target(gateway, gateway_header, discover)
    prov = find_provider(common.catalog(ctx), provider)
    if discover:
        from ccendpoint.commands.discover import with_discovered  # start-up: the HTTP code loads only here

        prov = with_discovered(prov, region)
    options = GroupOptions(
        mode=mode.value if mode else None,
        region=region,
        port=port,
        group_name=group,
        model_ids=split_ids(models),
        include_deprecated=all_models,
        force=force,
    )
    add_group(
        prov,
        options,
        file_request(edition, profile, user_data_dir, file),
        overlays=overlays(ctx, prov),
        yes=yes,
        dry_run=dry_run,
        as_json=as_json,
        gateway=target,
    )


@dataclass(frozen=True)
class GatewayTarget:
    """Where ``add --gateway`` points the models, and the headers they send (None: the default)."""

    url: str
    headers: dict[str, str] | None = None


def gateway_target(url: str | None, headers: Sequence[str] | None, discover: bool) -> GatewayTarget | None:
    if url is None:
        if headers:
            raise UsageError("--gateway-header needs --gateway URL.", hint="Add --gateway with your gateway's address.")
        return None
    if discover:
        raise UsageError(
            "--discover does not go with --gateway: the gateway serves the models its config lists.",
            hint="Export the catalog's models to the gateway (ccendpoint export litellm) and leave --discover out.",
        )
    parsed = dict(parse_header(text) for text in headers) if headers else None
    return GatewayTarget(url, parsed)


def overlays(ctx: typer.Context, prov: Provider) -> list[Path]:
    """The ``--catalog`` paths a provider's proxy needs again: those of a provider only they define."""
    return common.catalog_paths(ctx) if prov.origin != "bundled" else []


@dataclass(frozen=True)
class Added:
    """What :func:`add_group` did: the plan, how it was written, and where."""

    plan: Plan
    result: WriteResult | None  # None: a dry run
    mode: Mode | Literal["gateway"]
    location: Location

    @property
    def written(self) -> bool:
        return bool(self.result and self.result.written)


def add_group(
    prov: Provider,
    options: GroupOptions,
    request: FileRequest,
    *,
    overlays: Sequence[Path] = (),
    yes: bool = False,
    dry_run: bool = False,
    as_json: bool = False,
    with_steps: bool = True,
    gateway: GatewayTarget | None = None,
) -> Added:
    """Render the provider's group, plan it into the file, show the plan and write it.

    ``options.force`` replaces entries the user edited or ccendpoint did not write; ``yes`` replaces
    conflicting ones without asking. ``with_steps``: end with the next steps (``setup`` says its own).
    ``gateway``: the models call that team gateway instead (``add --gateway``).
    """
    mode: Mode | Literal["gateway"]
    if gateway is not None:
        desired = render_gateway_group(prov, options, gateway.url, gateway.headers)
        mode = "gateway"
    else:
        desired = render_group(prov, options)
        mode = resolve_mode(prov, options)
    location = locate(request)
    warnings = list(location.warnings)
    if mode == "direct" and (note := direct_mode_warning(prov)):
        warnings.append(note)
    if mode == "direct" and options.port is not None:
        warnings.append(f"--port {options.port} is not used in direct mode: the models call {prov.name} directly.")
    state = store.read_file(Path(location.path))
    record = ownership.load_record(state.key, VENDOR, desired["name"])

    def make(confirm: bool) -> Plan:
        return plan_add(
            state.text, desired, record, prov.id, force=options.force, confirm=confirm, source=str(state.path)
        )

    with progress(f"Planning the change to {state.path.name}…"):  # a large file takes a moment
        plan = make(confirm=yes)
        warnings += check_result(plan, options.force)
    steps = next_steps(prov, plan, mode, options, overlays) if with_steps else []
    if not as_json:
        for message in warnings:
            common.warn(message)
        show_plan(plan, location, state, f'{prov.name} → group "{plan.group}" ({mode} mode)')
    if plan.conflicts and not dry_run:
        plan = _settle_conflicts(plan, make, location, state, as_json)
        warnings += check_result(plan, options.force)
    result = None if dry_run else store.apply_plan(state.path, plan, state)
    report(plan, location, state, result, steps, warnings, mode=mode, dry_run=dry_run, as_json=as_json)
    return Added(plan, result, mode, location)


def _settle_conflicts(
    plan: Plan, make: Callable[[bool], Plan], location: Location, state: FileState, as_json: bool
) -> Plan:
    """Replace entries ccendpoint did not write only after a yes on the terminal."""
    ids = ", ".join(plan.models_with("conflict"))
    question = f"Replace {ids} with the catalog's entries? (the file is backed up first)"
    if not as_json and common.ask(question, yes=False):
        replanned = make(True)
        show_plan(replanned, location, state, "Updated plan")
        return replanned
    if as_json:
        common.print_json(plan_data(plan, location, state, written=False, warnings=[]))
    raise CcendpointError(
        f"{ids}: already in the group with other values, and not written by ccendpoint; nothing was written.",
        hint="Add --force (or --yes) to replace them with the catalog's entries, or leave them out with --models.",
    )


def next_steps(
    prov: Provider, plan: Plan, mode: str, options: GroupOptions, overlays: Sequence[Path] = ()
) -> list[str]:
    steps = []
    if not plan.has_api_key:
        step = key_step(plan.group)
        if mode == "gateway":
            step += " Use the key your gateway gave you, not the provider's."
        steps.append(step)
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
    parts = ["ccendpoint"]
    for path in overlays:
        parts += ["--catalog", shlex.quote(str(path))]
    parts += ["service", "install", prov.id] if service else ["proxy", prov.id]
    if options.port is not None:
        parts += ["--port", str(options.port)]
    if options.region is not None:
        parts += ["--region", options.region]
    return " ".join(parts)


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
    as_json: PlanJsonOpt = False,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
) -> None:
    """Remove the models ccendpoint added for a provider; the group goes once nothing else is in it.

    Models you added yourself, and entries you edited, stay (--force removes edited ones too).

    Example: ccendpoint remove kimi --models kimi-k2.6 --dry-run
    """
    prov = find_provider(common.catalog(ctx), provider)
    if group is not None and not group.strip():
        raise UsageError("--group is empty.", hint="Name the group to remove from, or leave --group out.")
    location = locate(file_request(edition, profile, user_data_dir, file))
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
    warnings += check_result(plan, force)
    if not as_json:
        for message in warnings:
            common.warn(message)
        show_plan(plan, location, state, f'Remove {prov.name} from group "{name}"')
    result = None if dry_run else store.apply_plan(state.path, plan, state)
    report(plan, location, state, result, [], warnings, mode=None, dry_run=dry_run, as_json=as_json)


def _recorded_group(prov: Provider, state: FileState) -> str:
    names = sorted({r.name for r in ownership.load_records(state.key) if r.provider == prov.id})
    if len(names) > 1:
        raise UsageError(
            f"ccendpoint wrote {len(names)} groups for {prov.name} to this file: {', '.join(names)}.",
            hint="Pick one with --group NAME.",
        )
    return names[0] if names else prov.group_name
