"""Token usage and cost from the proxy's request logs (pure aggregation; reading files at the edge).

A log record that carries ``usage`` (prompt, completion, cached prompt and reasoning tokens, as
the provider reported them) is priced with the catalog; a record without it is counted as such
and never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ccendpoint.catalog.cost import price_factor, tokens_cost
from ccendpoint.catalog.model import Catalog, Pricing
from ccendpoint.errors import UsageError


@dataclass
class Row:
    day: str
    provider: str
    model: str
    requests: int = 0
    with_usage: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None  # None: no price in the catalog
    currency: str = ""
    price_date: str = ""
    off_peak: int = 0  # priced requests billed at the off-peak rate

    @property
    def without_usage(self) -> int:
        return self.requests - self.with_usage


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    since: str = ""
    skipped_lines: int = 0

    def totals(self) -> Row:
        total = Row(day="total", provider="", model="")
        costs = [r.cost for r in self.rows if r.cost is not None]
        for row in self.rows:
            total.requests += row.requests
            total.with_usage += row.with_usage
            total.input_tokens += row.input_tokens
            total.cached_tokens += row.cached_tokens
            total.output_tokens += row.output_tokens
            total.reasoning_tokens += row.reasoning_tokens
            total.off_peak += row.off_peak
        currencies = {r.currency for r in self.rows if r.cost is not None}
        if len(currencies) == 1:  # prices in different currencies are never added up
            total.cost, total.currency = sum(costs), currencies.pop()
        elif currencies:
            total.currency = "mixed"
        return total


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``2w``, ``30m`` or an ISO date (``2026-11-01``)."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]] if match else ""
    try:
        if match:
            return now - timedelta(**{unit: int(match[1])})
        parsed = datetime.fromisoformat(text.strip())
    except (ValueError, OverflowError):
        raise UsageError(
            f"Cannot read --since {text!r}.", hint="Use a duration such as 7d, 12h, 2w, or a date such as 2026-11-01."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _detail(usage: Mapping[str, Any], group: str, key: str) -> int:
    details = usage.get(group)
    return _int(details.get(key)) if isinstance(details, dict) else 0


def usage_numbers(usage: Mapping[str, Any]) -> dict[str, int]:
    """The four counts from a provider's ``usage`` object, whichever spelling it uses.

    OpenAI-style providers nest cached and reasoning tokens under ``*_tokens_details``; some put
    ``cached_tokens`` at the top level, and DeepSeek reports ``prompt_cache_hit_tokens``.
    """
    cached = (
        _int(usage.get("cached_tokens"))
        or _detail(usage, "prompt_tokens_details", "cached_tokens")
        or _int(usage.get("prompt_cache_hit_tokens"))
    )
    reasoning = _int(usage.get("reasoning_tokens")) or _detail(usage, "completion_tokens_details", "reasoning_tokens")
    return {
        "prompt_tokens": _int(usage.get("prompt_tokens")),
        "cached_tokens": cached,
        "completion_tokens": _int(usage.get("completion_tokens")),
        "reasoning_tokens": reasoning,
    }


def _time(record: Mapping[str, Any]) -> datetime | None:
    value = record.get("time")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _pricing(catalog: Catalog, provider_id: str, model_id: str) -> Pricing | None:
    provider = catalog.provider(provider_id)
    model = provider.model(model_id) if provider else None
    return model.pricing if model else None


def aggregate(
    records: Iterable[Mapping[str, Any]],
    catalog: Catalog,
    *,
    since: datetime | None = None,
    provider: str | None = None,
) -> Report:
    """One row per day, provider and model, in date order.

    Each request is priced on its own, at the rate in force when it was made (time-of-day billing).
    """
    rows: dict[tuple[str, str, str], Row] = {}
    prices: dict[tuple[str, str], Pricing | None] = {}
    report = Report(since=since.isoformat() if since else "")
    for record in records:
        when = _time(record)
        model = record.get("model")
        prov = record.get("provider")
        if when is None or not isinstance(model, str) or not isinstance(prov, str):
            report.skipped_lines += 1
            continue
        if (since and when < since) or (provider and prov != provider):
            continue
        day = when.astimezone(timezone.utc).date().isoformat()
        row = rows.setdefault((day, prov, model), Row(day=day, provider=prov, model=model))
        row.requests += 1
        usage = record.get("usage")
        if not isinstance(usage, dict):
            continue
        row.with_usage += 1
        numbers = usage_numbers(usage)
        row.input_tokens += numbers["prompt_tokens"]
        row.cached_tokens += numbers["cached_tokens"]
        row.output_tokens += numbers["completion_tokens"]
        row.reasoning_tokens += numbers["reasoning_tokens"]
        if (prov, model) not in prices:
            prices[(prov, model)] = _pricing(catalog, prov, model)
        pricing = prices[(prov, model)]
        if pricing is None:
            continue
        cost = tokens_cost(
            pricing,
            numbers["prompt_tokens"],
            numbers["completion_tokens"],
            numbers["cached_tokens"],
            at=when,
        )
        row.cost = (row.cost or 0.0) + cost
        row.currency, row.price_date = pricing.currency, pricing.date
        row.off_peak += price_factor(pricing, when) != 1.0
    report.rows = sorted(rows.values(), key=lambda r: (r.day, r.provider, r.model))
    return report


def bar(value: float, largest: float, width: int = 20) -> str:
    """A horizontal bar scaled to the largest value (eighth-block precision)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
