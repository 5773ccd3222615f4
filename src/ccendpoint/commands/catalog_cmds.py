"""``ccendpoint list`` and ``ccendpoint show``: what the catalog knows."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console, RenderableType

from ccendpoint.catalog.cost import TYPICAL_SESSION, off_peak_session_cost, session_cost
from ccendpoint.catalog.export import model_dict, provider_dict
from ccendpoint.catalog.formatting import money, price_text, tokens_text
from ccendpoint.catalog.lookup import find_model, find_provider
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.commands import common
from ccendpoint.commands.layout import Column, Row, fit_table
from ccendpoint.commands.options import JsonOpt
from ccendpoint.commands.page_view import print_page
from ccendpoint.provider_page import build_page, shown_group


def proxy_text(provider: Provider) -> str:
    port = f" :{provider.proxy_port}" if provider.proxy_port and provider.proxy_mode != "direct" else ""
    return f"{provider.proxy_mode}{port}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def models_table(console: Console, rows: list[tuple[Provider, Model]], *, cost: bool = False) -> RenderableType:
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
    return fit_table(console, columns, table_rows)


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
    chosen = [find_model(prov, model)] if model else []
    shown = shown_group(prov, [m.id for m in chosen])
    if as_json:
        data = provider_dict(prov)
        if chosen:
            data["models"] = [model_dict(prov, m) for m in chosen]
        data["vscode_group"] = shown.group
        data["vscode_mode"] = shown.mode
        if shown.note:
            data["vscode_note"] = shown.note
        common.print_json(data)
        return
    print_page(common.console(), build_page(prov, shown, chosen))
