"""Typed, read-only view of the catalog: providers, models, endpoints and proxy rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ccendpoint.rules.ruleset import Rule, RuleSet
from ccendpoint.urls import proxy_url

__all__ = ["Rule", "RuleSet"]  # the rule vocabulary lives in ccendpoint.rules; models hold rule sets

JSONValue = Any
ProxyMode = Literal["required", "recommended", "direct"]
Thinking = Literal["none", "hybrid", "always"]

#: Weekday names as the catalog writes them, Monday first (``datetime.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Peak:
    """Time-of-day billing: the listed prices apply in the peak windows, ``off_peak_factor`` × them elsewhere."""

    days: tuple[str, ...]  # from WEEKDAYS
    hours_utc: tuple[tuple[int, int], ...]  # [start, end) in minutes after 00:00 UTC
    off_peak_factor: float

    def describe(self) -> str:
        """``peak Mon–Fri 01:00–04:00 and 06:00–10:00 UTC; off-peak 50% of it``."""
        days = [d.capitalize() for d in self.days]
        if self.days == WEEKDAYS[: len(self.days)] and len(self.days) > 2:
            day_text = f"{days[0]}–{days[-1]}"
        else:
            day_text = ", ".join(days)
        windows = " and ".join(f"{_clock(a)}–{_clock(b)}" for a, b in self.hours_utc)
        return f"peak {day_text} {windows} UTC; off-peak {self.off_peak_factor:.0%} of the peak price"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Pricing:
    """Prices per one million tokens (the peak prices when ``peak`` is set)."""

    input: float
    output: float
    currency: str
    date: str
    cached_input: float | None = None
    note: str = ""
    source: str = ""
    peak: Peak | None = None


@dataclass(frozen=True)
class Endpoint:
    region: str
    url: str
    label: str = ""
    note: str = ""
    key_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Troubleshooting:
    symptom: str
    cause: str
    fix: str


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    vision: bool
    tool_calling: bool
    thinking: Thinking
    facts_date: str
    rules: RuleSet
    streaming: bool = True
    status: Literal["current", "deprecated"] = "current"
    replacement: str | None = None
    end_of_life: str | None = None
    context: int | None = None
    max_output: int | None = None
    vscode_thinking: bool | None = None
    model_options: Mapping[str, float | None] = field(default_factory=dict)
    #: Levels of a top-level ``reasoning_effort`` the model takes (VS Code's Thinking Effort menu).
    reasoning_effort: tuple[str, ...] = ()
    #: Fields the upstream needs that VS Code cannot send; only the proxy adds them.
    request_body: Mapping[str, JSONValue] = field(default_factory=dict)
    pricing: Pricing | None = None
    notes: tuple[str, ...] = ()
    #: Where the model's facts come from (a URL or a named document).
    source: str = ""
    #: The provider's own output maximum, when ``max_output`` (what ``add`` writes) is lower.
    output_limit: int | None = None
    #: The provider's output budget when a request sets none.
    default_output: int | None = None
    #: Why ``max_output`` is not the provider's maximum.
    max_output_why: str = ""
    #: Fields that are conservative assumptions rather than sourced facts.
    assumed: tuple[str, ...] = ()

    @property
    def deprecated(self) -> bool:
        return self.status == "deprecated"


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    group_name: str
    endpoints: Mapping[str, Endpoint]
    default_region: str
    proxy_mode: ProxyMode
    models: tuple[Model, ...]
    default_rules: RuleSet
    rule_sets: Mapping[str, RuleSet]
    proxy_port: int | None = None
    env_prefix: str = ""
    proxy_why: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""
    docs_url: str | None = None
    key_url: str | None = None
    key_env: tuple[str, ...] = ()
    key_format: str = ""
    key_prefixes: tuple[str, ...] = ()
    troubleshooting: tuple[Troubleshooting, ...] = ()
    #: Served ids worth reporting as unknown (globs; empty: all) and ids never reported.
    discovery_include: tuple[str, ...] = ()
    discovery_exclude: tuple[str, ...] = ()
    #: Where the definition came from: "bundled", or "user (replaces bundled): <file>", ...
    origin: str = "bundled"
    #: The checked catalog document it was built from (overlays merged): what a process is handed.
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def model(self, model_id: str) -> Model | None:
        for model in self.models:
            if model.id == model_id:
                return model
        return None

    def current_models(self) -> tuple[Model, ...]:
        return tuple(m for m in self.models if not m.deprecated)

    def endpoint(self, region: str | None = None) -> Endpoint:
        return self.endpoints[region or self.default_region]

    @property
    def proxy_url(self) -> str | None:
        if self.proxy_port is None:
            return None
        return proxy_url(self.proxy_port)


@dataclass(frozen=True)
class Catalog:
    providers: tuple[Provider, ...]
    #: Files that were read, in order (bundled first, then user overlays).
    sources: tuple[str, ...] = ()

    def provider(self, provider_id: str) -> Provider | None:
        wanted = provider_id.lower()
        for provider in self.providers:
            if provider.id == wanted or wanted in provider.aliases:
                return provider
        return None
