"""``ccendpoint list`` and ``ccendpoint show``: what the catalog knows."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console, RenderableType
from rich.markup import escape

from ccendpoint.catalog.cost import TYPICAL_SESSION, off_peak_session_cost, session_cost
from ccendpoint.catalog.export import model_dict, provider_dict, proxy_env_names
from ccendpoint.catalog.facts import fact_lines
from ccendpoint.catalog.lookup import find_model, find_provider
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.commands import common
from ccendpoint.commands.layout import Column, Row, bullet, fit_table, indented
from ccendpoint.commands.options import JsonOpt
from ccendpoint.formatting import money, price_text, tokens_text
from ccendpoint.rules.pipeline import model_pipeline
from ccendpoint.vscode.blocks import GroupOptions, default_mode, fallback_limits, render_group
from ccendpoint.vscode.facts import MANAGE_MODELS, MODELS_FILE, UPDATE_API_KEY


def proxy_text(provider: Provider) -> str:
    port = f" :{provider.proxy_port}" if provider.proxy_port and provider.proxy_mode != "direct" else ""
    return f"{provider.proxy_mode}{port}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def models_table(
    console: Console, rows: list[tuple[Provider, Model]], *, title: str | None = None, cost: bool = False
) -> RenderableType:
    """The models as a table that fits the console: less important columns move under the model id."""
    columns = [
        Column("Model id"),
        Column("Provider", priority=6, label="", group=True),
        Column("Name", priority=4, label="", wrap=True),
        Column("Context", "right", priority=1),
        Column("Max out", "right", priority=1),
        Column("Vision", "center", priority=3, flag=True),
        Column("Tools", "center", priority=3, flag=True),
        Column("Thinking", priority=2),
        Column("Proxy", priority=6, group=True),
        Column("In / out per 1M", "right", label="per 1M in / out"),
    ]
    if cost:
        columns.append(Column("Agent session", "right", label="agent session"))
    table_rows = []
    for provider, model in rows:
        name = model.name
        style = None
        if model.deprecated:
            name += f" (deprecated → {model.replacement})"
            style = "dim"
        cells = [
            model.id,
            provider.id,
            name,
            tokens_text(model.context),
            tokens_text(model.max_output),
            _yes(model.vision),
            _yes(model.tool_calling),
            model.thinking,
            proxy_text(provider),
            price_text(model),
        ]
        if cost:
            cells.append(_session_text(model))
        table_rows.append(Row(cells, style=style))
    return fit_table(console, columns, table_rows, title=title)


def _session_text(model: Model) -> str:
    """``$1.23``, or ``$1.23 (off-peak $0.62)`` for a provider that bills by time of day."""
    value = session_cost(model.pricing)
    if value is None or model.pricing is None:
        return "—"
    text = money(value, model.pricing.currency)
    off_peak = off_peak_session_cost(model.pricing)
    return text if off_peak is None else f"{text} (off-peak {money(off_peak, model.pricing.currency)})"


def list_models(
    ctx: typer.Context,
    provider: Annotated[Optional[str], typer.Argument(help="Only this provider (id or alias).")] = None,  # noqa: UP045
    all_models: Annotated[bool, typer.Option("--all", help="Include deprecated models.")] = False,
    cost: Annotated[
        bool, typer.Option("--cost", help="Add the estimated cost of a typical agent session; cheapest first.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the providers and models in the catalog.

    Example: ccendpoint list kimi --all

    Example: ccendpoint list --cost
    """
    cat = common.catalog(ctx)
    common.warn_if_stale()
    providers = [find_provider(cat, provider)] if provider else list(cat.providers)
    rows = [(p, m) for p in providers for m in p.models if all_models or not m.deprecated]
    if cost:
        rows.sort(key=lambda row: (session_cost(row[1].pricing) is None, session_cost(row[1].pricing) or 0.0))
    if as_json:
        common.print_json([model_dict(p, m) for p, m in rows])
        return
    out = common.console()
    out.print(models_table(out, rows, cost=cost))
    if cost:
        out.print(
            f"[dim]Agent session: {TYPICAL_SESSION.describe()}, at the catalog's list prices; for providers "
            "that bill by time of day the list price is the peak price, and the off-peak cost follows.[/dim]"
        )
    hidden = sum(1 for p in providers for m in p.models if m.deprecated) if not all_models else 0
    if hidden:
        out.print(f"[dim]{hidden} deprecated model(s) hidden; --all shows them.[/dim]")
    out.print("[dim]Details and the exact VS Code group: ccendpoint show PROVIDER[/dim]")


def show(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="Provider id or alias, e.g. kimi.")],
    model: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Show a provider in full: endpoints, key, proxy rules, troubleshooting, and the VS Code group.

    Example: ccendpoint show kimi kimi-k2.6
    """
    cat = common.catalog(ctx)
    common.warn_if_stale()
    prov = find_provider(cat, provider)
    chosen = find_model(prov, model) if model else None
    options = GroupOptions(model_ids=[chosen.id] if chosen else None)
    note = None
    if prov.proxy_mode == "required" and prov.proxy_port is None:
        # `add` needs --port here; show the direct-mode group rather than fail on an option show lacks
        options = GroupOptions(model_ids=options.model_ids, mode="direct", force=True)
        note = (
            f"The catalog gives {prov.name} no proxy port, so this is the direct-mode group, which fails "
            f"without the proxy. `ccendpoint add {prov.id} --port PORT` writes the proxy group instead."
        )
    group = render_group(prov, options)
    if as_json:
        data = provider_dict(prov)
        if chosen:
            data["models"] = [model_dict(prov, chosen)]
        data["vscode_group"] = group
        data["vscode_mode"] = default_mode(prov)
        if note:
            data["vscode_note"] = note
        common.print_json(data)
        return
    _print_provider(prov, chosen, group, note)


def _print_provider(prov: Provider, chosen: Model | None, group: dict[str, object], note: str | None = None) -> None:
    out = common.console()
    out.print(f"[bold]{escape(prov.name)}[/bold]  " + escape(f"(id: {prov.id}; group: {prov.group_name})"))
    if prov.aliases:
        out.print(f"Also known as: {', '.join(prov.aliases)}", markup=False)
    out.print(f"Defined by: {prov.origin}", markup=False)
    if prov.description:
        out.print(indented(prov.description, 0))
    if prov.docs_url:
        out.print(f"Docs: {prov.docs_url}", markup=False)

    endpoints = []
    for e in prov.endpoints.values():
        region = e.region + (" (default)" if e.region == prov.default_region else "")
        where = e.label + (f" — {e.note}" if e.note else "")
        keys = ", ".join(f"{p}…" for p in e.key_prefixes) or "any"
        endpoints.append((region, e.url, where, keys))
    columns = [Column("Region"), Column("URL"), Column("Where", wrap=True, priority=2), Column("Keys", priority=1)]
    out.print(fit_table(out, columns, endpoints, title="Endpoints by region"))

    out.print("[bold]API key[/bold]")
    if prov.key_env:
        out.print(indented(f"Environment variables (doctor --live reads them): {', '.join(prov.key_env)}"))
    if prov.key_format:
        out.print(indented(f"Format: {prov.key_format}"))
    if prov.key_url:
        out.print(indented(f"Get one: {prov.key_url}"))
    out.print(
        indented(
            f"In VS Code: Command Palette → {MANAGE_MODELS} → right-click the "
            f"{prov.group_name} group → {UPDATE_API_KEY}. ccendpoint never writes a key into the file."
        )
    )

    out.print("[bold]Proxy[/bold]")
    mode_word = {"required": "required", "recommended": "recommended", "direct": "not needed (direct)"}
    default = "needs --port PORT (no proxy port in the catalog)" if note else f"defaults to {default_mode(prov)} mode"
    out.print(indented(f"Mode: {mode_word[prov.proxy_mode]}; `add` {default}."))
    if prov.proxy_port:
        env = proxy_env_names(prov)
        out.print(indented(f"Port: {prov.proxy_port}  URL: {prov.proxy_url}"))
        start = f"ccendpoint proxy {prov.id}, or at every login: ccendpoint service install {prov.id}"
        out.print(indented(f"Start: {start}"))
        out.print(indented(f"Environment: {env['port']}, {env['upstream']}, {env['log']}"))
    if prov.proxy_why:
        out.print(indented(f"Why: {prov.proxy_why}"))
    models = [chosen] if chosen else list(prov.models)
    for m in models:
        label = f"{m.id}" + (" (deprecated)" if m.deprecated else "")
        out.print(f"  What it does for [bold]{escape(label)}[/bold] " + escape(f"(rule set {m.rules.name}):"))
        for sentence in model_pipeline(prov.id, m).sentences():
            out.print(bullet(sentence))

    out.print(models_table(out, [(prov, m) for m in models], title="Models"))
    for m in models:
        out.print(indented(f"{m.id}:"))
        for line in fact_lines(m):
            out.print(indented(line, 4))
        for line in m.notes:
            out.print(indented(line, 4))
        missing = fallback_limits(m)
        if missing:
            out.print(indented(f"Unknown limits; `add` writes VS Code's defaults: {', '.join(missing)}", 4))

    if prov.troubleshooting:
        trouble = [(t.symptom, t.cause, t.fix) for t in prov.troubleshooting]
        columns = [Column("Symptom", wrap=True), Column("Cause", wrap=True), Column("Fix", wrap=True)]
        out.print(fit_table(out, columns, trouble, title="Troubleshooting"))

    out.print(f"[bold]Group that `ccendpoint add {escape(prov.id)}` writes to {MODELS_FILE}[/bold]")
    if note:
        out.print(indented(note, 0))
    out.file.flush()
    # written as raw text: rich would expand the tabs, and users copy this block verbatim
    sys.stdout.write(json.dumps(group, indent="\t", ensure_ascii=False) + "\n")
