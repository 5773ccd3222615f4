"""``ccendpoint setup``: a provider working in VS Code in one command, and still working after a reboot.

The steps: choose the region, write the VS Code group (the same planning and writing as ``add``),
install and start the proxy as a login service when the provider's models need it, offer VS Code's
utility models, and say the one step left (the API key). A second run changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.text import Text

from ccendpoint.catalog.lookup import find_model, find_provider
from ccendpoint.catalog.model import Catalog, Model, Provider
from ccendpoint.commands import common, service_cmd
from ccendpoint.commands.add_remove import add_group, overlays
from ccendpoint.commands.layout import bullet, indented
from ccendpoint.commands.options import (
    EditionOpt,
    FileOpt,
    ProfileOpt,
    ProviderArg,
    UserDataOpt,
    file_request,
    yes_option,
)
from ccendpoint.doctor.config_checks import custom_groups, models_of
from ccendpoint.errors import UsageError
from ccendpoint.service.manage import load_served
from ccendpoint.vscode import store
from ccendpoint.vscode.blocks import GroupOptions
from ccendpoint.vscode.document import DocumentError
from ccendpoint.vscode.facts import (
    MANAGE_MODELS,
    OPEN_SETTINGS_JSON,
    RELOAD_WINDOW,
    SETTINGS_FILE,
    UPDATE_API_KEY,
    UTILITY_SETTINGS,
)
from ccendpoint.vscode.paths import Location
from ccendpoint.vscode.plan import Plan
from ccendpoint.vscode.settings import (
    choose_utility_model,
    model_reference,
    parse_settings,
    utility_changes,
    utility_settings_edit,
)

KEY_PATH = f'Command Palette → {MANAGE_MODELS} → right-click the group "{{group}}" → {UPDATE_API_KEY}'
RELOAD = f"If the models do not show in the chat's model picker: Command Palette → {RELOAD_WINDOW}."


def setup(
    ctx: typer.Context,
    provider: ProviderArg,
    region: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--region", help="Endpoint region (default: the catalog's; asked on a terminal).", metavar="REGION"
        ),
    ] = None,
    yes: Annotated[bool, yes_option("Take every default without asking; replace conflicting entries.")] = False,
    no_service: Annotated[
        bool,
        typer.Option("--no-service", help="Do not install the proxy as a login service (run `ccendpoint proxy`)."),
    ] = False,
    utility_model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--utility-model",
            help="Model for VS Code's utility tasks (default: the provider's cheapest); replaces other choices.",
            metavar="ID",
        ),
    ] = None,
    no_utility_model: Annotated[
        bool, typer.Option("--no-utility-model", help="Leave VS Code's utility-model settings alone.")
    ] = False,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
) -> None:
    """Set up a provider in VS Code in one go: region, models, proxy service, utility models.

    Writes the provider's group into chatLanguageModels.json exactly as `add` does, installs the
    local proxy as a login service when the models need it (so they keep working after a
    reboot), starts it and checks /healthz, and offers to set VS Code's utility models. Then it
    says the one step left: pasting the API key into VS Code. Running it again changes nothing.

    Example: ccendpoint setup kimi

    Example: ccendpoint setup qwen --region us --yes
    """
    if utility_model and no_utility_model:
        raise UsageError("--utility-model and --no-utility-model contradict each other.", hint="Keep one of them.")
    cat = common.catalog(ctx)
    prov = find_provider(cat, provider)
    ask = not yes and common.interactive()
    out = common.console()
    out.print(f"[bold]Setting up {escape(prov.name)}[/bold]")

    chosen = choose_region(out, prov, region, ask)
    out.print(_section("VS Code"))
    added = add_group(  # the same plan, checks, backup and write as `add`
        prov,
        GroupOptions(region=chosen),
        file_request(edition, profile, user_data_dir, file),
        overlays=overlays(ctx, prov),
        yes=yes,
        with_steps=False,
    )
    plan, changed, mode = added.plan, added.written, added.mode
    healthy = True
    if mode == "proxy":
        service_changed, healthy = _proxy_step(out, ctx, cat, prov, chosen, ask, no_service)
        changed = changed or service_changed
    else:
        out.print(_section("Proxy"))
        out.print(_para(f"Not needed: {prov.group_name}'s models call {prov.name} directly."))
    if no_utility_model:
        out.print(_section("Utility models"))
        out.print(_para("Left as they are (--no-utility-model)."))
    else:
        changed = _utility_step(out, prov, plan, added.location, utility_model, ask) or changed
    _closing(out, prov, plan, changed, mode)
    if not healthy:
        raise typer.Exit(1)


# -- region ---------------------------------------------------------------------------------------------


def region_lines(provider: Provider) -> list[str]:
    """Each region of the provider in words, the default first and said to be the default."""
    ordered = sorted(provider.endpoints.values(), key=lambda e: e.region != provider.default_region)
    lines = []
    for endpoint in ordered:
        default = " (default)" if endpoint.region == provider.default_region else ""
        where = endpoint.label or endpoint.url
        note = f". {endpoint.note}" if endpoint.note else ""
        lines.append(f"{endpoint.region}{default}: {where}{note}")
    return lines


def default_note(provider: Provider) -> str:
    """Why the default region is used, and how to pick another."""
    others = [r for r in provider.endpoints if r != provider.default_region]
    if not others:
        return f"{provider.default_region}: the only region the catalog knows for {provider.group_name}."
    if len(others) == 1:
        other = provider.endpoint(others[0])
        choice = f"--region {other.region} picks {other.label or other.url}"
    else:
        choice = f"--region picks another ({', '.join(others)})"
    return (
        f"{provider.default_region}: the catalog's default for {provider.group_name}. A key works in the region "
        f"where it was created; {choice}."
    )


def choose_region(out: Console, provider: Provider, given: str | None, ask: bool) -> str:
    out.print(_section("Region"))
    if given is not None:
        if given not in provider.endpoints:
            raise UsageError(
                f"{provider.group_name} has no region '{given}'. Known regions: {', '.join(provider.endpoints)}.",
                hint=f"Use one of those, e.g. --region {provider.default_region}, or leave --region out.",
            )
        out.print(_para(f"{given}: {provider.endpoint(given).label or provider.endpoint(given).url} (--region)."))
        return given
    if not ask or len(provider.endpoints) == 1:
        out.print(_para(default_note(provider)))
        return provider.default_region
    for number, line in enumerate(region_lines(provider), 1):
        out.print(bullet(line, 2, f"{number}. "))
    out.print(_para("A key works in the region where it was created.", style="dim"))
    names = sorted(provider.endpoints, key=lambda r: r != provider.default_region)
    while True:
        answer = str(typer.prompt("Region", default=provider.default_region, err=True)).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(names):
            return names[int(answer) - 1]
        if answer in provider.endpoints:
            return answer
        common.err_console().print(f"Pick one of: {', '.join(names)} (or its number).", markup=False)


# -- proxy service ------------------------------------------------------------------------------------------


def _proxy_step(
    out: Console, ctx: typer.Context, catalog: Catalog, prov: Provider, region: str, ask: bool, no_service: bool
) -> tuple[bool, bool]:
    """Install and start the login service: (something changed, every port answers)."""
    out.print(_section("Proxy"))
    start = f"ccendpoint proxy {prov.id}" + (f" --region {region}" if region != prov.default_region else "")
    box = service_cmd.machine()
    current = load_served(box)
    wanted = not no_service
    if wanted and ask and not current.serves(prov.id):
        why = f"A login service starts the proxy at every login, so {prov.group_name}'s models keep working."
        out.print(_para(why))
        wanted = typer.confirm("  Install it?", default=True, err=True)
    if not wanted:
        reason = " (--no-service)" if no_service else ""
        out.print(_para(f"Not installed as a login service{reason}. Start it and keep it running while you chat:"))
        out.print(_para(start, 4))
        return False, True
    overlays = [str(Path(p).expanduser().resolve()) for p in common.catalog_paths(ctx)]
    served = current.merged([prov.id], regions={prov.id: region}, catalogs=overlays if prov.origin != "bundled" else [])
    status, change = service_cmd.install_and_wait(box, catalog, served)
    service_cmd.report_install(out, status, change)
    return change.changed, status.healthy


# -- utility models -----------------------------------------------------------------------------------------


def _utility_step(out: Console, prov: Provider, plan: Plan, location: Location, given: str | None, ask: bool) -> bool:
    """Offer VS Code's utility models; True when settings.json was written."""
    out.print(_section("Utility models"))
    written = plan.model_ids
    model = _utility_model(prov, given, written)
    if model is None:
        out.print(_para(f"No model of {prov.group_name} in the group suits utility tasks; left as they are."))
        return False
    reference = model_reference(model.id)
    shared = [str(m.get("id")) for g in custom_groups(plan.after) for m in models_of(g)].count(model.id)
    if shared > 1:
        out.print(
            _para(
                f"Not set: {shared} Custom Endpoint groups have a model {model.id}, and VS Code ignores a utility "
                "model that matches more than one. Pick another with --utility-model ID.",
                style="yellow",
            )
        )
        return False
    path = Path(location.path).parent / SETTINGS_FILE
    state = store.read_file(path)
    try:
        current = parse_settings(state.text, str(path)).root.value
    except DocumentError as exc:
        fix = f"Fix settings.json in VS Code ({OPEN_SETTINGS_JSON})."
        out.print(_para(f"Not set: {exc.message} {fix}", style="yellow"))
        return False
    to_set, kept = utility_changes(current, reference, replace=given is not None)
    for name, value in kept.items():
        out.print(_para(f"{name} stays {value!s} (your choice; --utility-model ID replaces it)."))
    if not to_set:
        if not kept:
            out.print(_para(f"Already set to {reference} ({model.name})."))
        return False
    names = " and ".join(to_set)
    if ask:
        out.print(_para(f"VS Code runs chat titles and summaries on {names}: {model.name} ({reference})?"))
    if ask and not typer.confirm("  Set them?" if len(to_set) > 1 else "  Set it?", default=True, err=True):
        out.print(_para(f"Left as they are. Without them VS Code keeps asking: set {', '.join(UTILITY_SETTINGS)}."))
        return False
    new_text = utility_settings_edit(state.text, to_set, str(path))
    result = store.apply_text(path, new_text, state)
    saved = f" (previous version saved as backup {result.backup.id})" if result.backup else ""
    out.print(_para(f"Set {names} to {reference} in {path}{saved}."))
    late = result.warning(path)
    if late:
        common.warn(late)
    return result.written


def _utility_model(prov: Provider, given: str | None, written: list[str]) -> Model | None:
    if given is None:
        return choose_utility_model(prov, written)
    model = find_model(prov, given)
    if model.id not in written:
        raise UsageError(
            f"{model.id} is not among the models setup wrote for {prov.group_name}.",
            hint=f"Use one of: {', '.join(written)}.",
        )
    return model


# -- the end --------------------------------------------------------------------------------------------


def _closing(out: Console, prov: Provider, plan: Plan, changed: bool, mode: str) -> None:
    out.print()
    if not changed:
        out.print("[bold green]Everything is in place; nothing changed.[/bold green]")
    if plan.has_api_key:
        out.print(_para(f"Ready: pick a {prov.group_name} model in the chat's model picker."))
        if changed:
            out.print(_para(RELOAD))
        return
    out.print("[bold]One step left: the API key[/bold]")
    out.print(_para("In VS Code: " + KEY_PATH.format(group=plan.group) + ", and paste the key."))
    if prov.key_url:
        out.print(_para(f"Get a key: {prov.key_url}"))
    out.print(_para("ccendpoint never writes the key to a file: VS Code keeps it in its secret storage."))
    out.print(_para(RELOAD))


def _section(title: str) -> Text:
    return Text(title, style="bold")


def _para(text: str, indent: int = 2, *, style: str = "") -> RenderableType:
    return indented(text, indent, style=style)
