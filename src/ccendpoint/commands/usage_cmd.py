"""``ccendpoint usage``: requests, tokens and cost per day and model, from the proxy logs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ccendpoint import dirs
from ccendpoint.catalog.formatting import money
from ccendpoint.catalog.lookup import find_provider
from ccendpoint.commands import common
from ccendpoint.commands.layout import Column, Row, fit_table, progress
from ccendpoint.commands.options import JsonOpt
from ccendpoint.proxy.logfiles import log_files, read_records
from ccendpoint.usage import Report, aggregate, bar, parse_since
from ccendpoint.usage import Row as UsageRow


def usage(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 12h, 2w, or a date (2026-11-01).")] = "7d",
    provider: Annotated[Optional[str], typer.Option("--provider", help="Only this provider.")] = None,  # noqa: UP045
    log: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--log", help="A proxy log file or folder (default: the proxy's log folder)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show token usage and cost per day and model, read from the proxy's request logs.

    Costs use the catalog's prices, each request at the rate in force when it was made (peak or
    off-peak, for providers that bill by time of day); requests whose answer carried no usage are
    counted apart, never guessed.

    Example: ccendpoint usage --since 30d --provider kimi
    """
    cat = common.catalog(ctx)
    provider_id = find_provider(cat, provider).id if provider else None
    start = parse_since(since, datetime.now(timezone.utc))
    location = log or dirs.log_dir()
    with progress("Reading the proxy's request logs…"):
        files = log_files(location)
        report = aggregate(read_records(files), cat, since=start, provider=provider_id)
    if as_json:
        common.print_json(
            {
                "since": report.since,
                "logs": [str(p) for p in files],
                "rows": [asdict(r) | {"without_usage": r.without_usage} for r in report.rows],
                "totals": asdict(report.totals()) | {"without_usage": report.totals().without_usage},
                "skipped_lines": report.skipped_lines,
            }
        )
        return
    _print(report, files, location)


def _print(report: Report, files: list[Path], location: Path) -> None:
    out = common.console()
    if not files:
        out.print(
            f"No proxy logs in {location}. Usage is recorded while `ccendpoint proxy PROVIDER` runs.", markup=False
        )
        return
    if not report.rows:
        out.print(f"No requests since {report.since[:16].replace('T', ' ')} in {location}.", markup=False)
        return
    largest = max((r.cost or 0.0) for r in report.rows)
    by_tokens = largest <= 0
    if by_tokens:
        largest = float(max(r.input_tokens + r.output_tokens for r in report.rows))
    columns = [
        Column("Day", priority=6, group=True, label=""),
        Column("Provider", priority=6, group=True, label=""),
        Column("Model"),
        Column("Requests", "right"),
        Column("No usage", "right", priority=4),
        Column("In", "right"),
        Column("Cached", "right", priority=2),
        Column("Out", "right"),
        Column("Cost", "right", priority=1),
        Column("", decoration=True),
    ]

    def cells(row: UsageRow) -> list[str]:
        value = (row.input_tokens + row.output_tokens) if by_tokens else (row.cost or 0.0)
        return [
            row.day,
            row.provider,
            row.model,
            f"{row.requests:,}",
            f"{row.without_usage:,}" if row.without_usage else "",
            f"{row.input_tokens:,}",
            f"{row.cached_tokens:,}",
            f"{row.output_tokens:,}",
            ("mixed currencies" if row.currency == "mixed" else "no price")
            if row.cost is None
            else money(round(row.cost, 4), row.currency),
            bar(float(value), largest),
        ]

    rows = [Row(cells(row)) for row in report.rows]
    total = report.totals()
    rows.append(Row([*cells(total)[:-1], ""], style="bold", section=True))
    out.print(fit_table(out, columns, rows, title=f"Proxy usage since {report.since[:10]}"))
    dates = sorted({(r.model, r.price_date) for r in report.rows if r.price_date})
    if dates:
        out.print("[dim]Prices from the catalog: " + escape(", ".join(f"{m} as of {d}" for m, d in dates)) + "[/dim]")
    if total.off_peak:
        out.print(
            f"[dim]{total.off_peak} request(s) fell outside their provider's peak hours and are priced at the "
            "off-peak rate.[/dim]"
        )
    if total.without_usage:
        out.print(f"[dim]{total.without_usage} request(s) had no usage in the answer and are not priced.[/dim]")
