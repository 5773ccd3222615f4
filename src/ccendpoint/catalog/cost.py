"""Cost estimates from catalog prices (per one million tokens)."""

from __future__ import annotations

from dataclasses import dataclass

from ccendpoint.catalog.model import Pricing


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


def tokens_cost(pricing: Pricing, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Cost of a request or a day: cached prompt tokens at the cached rate when the catalog has one."""
    cached_rate = pricing.cached_input if pricing.cached_input is not None else pricing.input
    uncached = max(input_tokens - cached_tokens, 0)
    return (uncached * pricing.input + cached_tokens * cached_rate + output_tokens * pricing.output) / 1_000_000


def session_cost(pricing: Pricing | None, session: Session = TYPICAL_SESSION) -> float | None:
    if pricing is None:
        return None
    return tokens_cost(pricing, session.input_tokens, session.output_tokens)
