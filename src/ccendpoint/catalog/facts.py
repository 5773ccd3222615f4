"""A model's facts in words (limits, prices, sources, what is unknown), shared by ``show`` and the docs."""

from __future__ import annotations

from ccendpoint.catalog.formatting import money, tokens_text
from ccendpoint.catalog.model import Model

#: What ``show`` and the docs say for a model the catalog has no price for.
NO_PRICE = "price unknown: no first-party price in the catalog's sources, so none is recorded or guessed"


def price_lines(model: Model) -> list[str]:
    """Cached price, date, source, time-of-day billing; or that the price is unknown."""
    p = model.pricing
    if p is None:
        return [NO_PRICE]
    parts = []
    if p.cached_input is not None:
        parts.append(f"cached input {money(p.cached_input, p.currency)} per 1M")
    parts.append(f"prices in {p.currency} as of {p.date}" + (f" ({p.note})" if p.note else ""))
    lines = ["; ".join(parts)]
    if p.peak is not None:
        lines.append(f"billed by time of day: listed prices are the {p.peak.describe()}")
    if p.source and p.source != model.source:
        lines.append(f"price source: {p.source}")
    return lines


def limit_lines(model: Model) -> list[str]:
    """The output budget ``add`` writes, and the provider's own maximum and default when they differ."""
    lines = []
    if model.output_limit is not None and model.max_output is not None and model.output_limit != model.max_output:
        why = f" {model.max_output_why}" if model.max_output_why else ""
        lines.append(
            f"`add` writes maxOutputTokens {model.max_output:,}; the provider allows up to "
            f"{model.output_limit:,} ({tokens_text(model.output_limit)}).{why}"
        )
    if model.default_output is not None:
        lines.append(f"provider default output when a request sets none: {model.default_output:,}")
    return lines


def source_lines(model: Model) -> list[str]:
    """Where the facts come from, and which fields are assumptions rather than facts."""
    lines = [f"facts as of {model.facts_date}" + (f" (source: {model.source})" if model.source else "")]
    if model.assumed:
        lines.append(
            "assumed, not sourced (conservative defaults): "
            + ", ".join(field.replace("_", " ") for field in model.assumed)
        )
    if model.end_of_life:
        lines.append(f"end of life {model.end_of_life}")
    return lines


def fact_lines(model: Model) -> list[str]:
    """Everything above, in the order ``show`` prints it (a retired model's missing price is not news)."""
    prices = price_lines(model) if model.pricing or not model.deprecated else []
    return prices + limit_lines(model) + source_lines(model)
