"""Short human forms of catalog numbers: token counts and prices."""

from __future__ import annotations

from ccendpoint.catalog.model import Model


def tokens_text(n: int | None) -> str:
    """Compact token counts: 262144 → 256K, 1048576 → 1M, 1000000 → 1M, 384000 → 384K."""
    if n is None:
        return "—"
    # decimal first: 384000 and 128000 are also multiples of 1024, but nobody calls them 375K or 125K
    for unit, size in (("M", 1_000_000), ("M", 1024 * 1024), ("K", 1000), ("K", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n:,}"


def money(value: float | None, currency: str) -> str:
    if value is None:
        return "—"
    symbol = "$" if currency == "USD" else f"{currency} "
    text = f"{value:.4f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{value:.2f}"
    return f"{symbol}{text}"


def price_text(model: Model) -> str:
    if model.pricing is None:
        return "—"
    p = model.pricing
    return f"{money(p.input, p.currency)} / {money(p.output, p.currency)}"
