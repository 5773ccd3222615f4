"""Cost estimates from catalog prices (per one million tokens), by the time of each request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ccendpoint.catalog.model import WEEKDAYS, Peak, Pricing


@dataclass(frozen=True)
class Session:
    """A typical agent session: many turns that each send the growing context and get a reply."""

    turns: int = 50
    input_per_turn: int = 10_000
    output_per_turn: int = 2_000

    @property
    def input_tokens(self) -> int:
        return self.turns * self.input_per_turn

    @property
    def output_tokens(self) -> int:
        return self.turns * self.output_per_turn

    def describe(self) -> str:
        per_turn = f"{self.input_per_turn // 1000}K in + {self.output_per_turn // 1000}K out"
        return f"{self.turns} turns × ({per_turn}), no cache hits"


TYPICAL_SESSION = Session()


def is_peak(peak: Peak, when: datetime) -> bool:
    """Whether ``when`` falls in one of the peak windows (naive times are taken as UTC)."""
    moment = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if WEEKDAYS[moment.weekday()] not in peak.days:
        return False
    minute = moment.hour * 60 + moment.minute
    return any(start <= minute < end for start, end in peak.hours_utc)


def price_factor(pricing: Pricing, when: datetime | None) -> float:
    """1.0 at the listed price; the off-peak factor when the request fell outside the peak windows.

    Without a time (an estimate rather than a logged request) the listed price applies.
    """
    if pricing.peak is None or when is None or is_peak(pricing.peak, when):
        return 1.0
    return pricing.peak.off_peak_factor


def tokens_cost(
    pricing: Pricing, input_tokens: int, output_tokens: int, cached_tokens: int = 0, *, at: datetime | None = None
) -> float:
    """Cost of a request: cached prompt tokens at the cached rate when the catalog has one.

    ``at`` is when the request was made; it matters for providers that bill by time of day.
    """
    cached_rate = pricing.cached_input if pricing.cached_input is not None else pricing.input
    uncached = max(input_tokens - cached_tokens, 0)
    listed = uncached * pricing.input + cached_tokens * cached_rate + output_tokens * pricing.output
    return listed * price_factor(pricing, at) / 1_000_000


def session_cost(pricing: Pricing | None, session: Session = TYPICAL_SESSION) -> float | None:
    """A typical session at the listed (peak) price."""
    if pricing is None:
        return None
    return tokens_cost(pricing, session.input_tokens, session.output_tokens)


def off_peak_session_cost(pricing: Pricing | None, session: Session = TYPICAL_SESSION) -> float | None:
    """The same session entirely off-peak; None when the price does not depend on the time."""
    if pricing is None or pricing.peak is None:
        return None
    return tokens_cost(pricing, session.input_tokens, session.output_tokens) * pricing.peak.off_peak_factor
