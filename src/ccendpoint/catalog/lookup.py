"""Find providers and models by the names users type, with "did you mean" suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from ccendpoint.catalog.model import Catalog, Model, Provider
from ccendpoint.errors import UsageError


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Candidates that look like ``word`` (case-insensitive), best first, original spelling."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    lowered = word.lower()
    found = difflib.get_close_matches(lowered, list(by_lower), n=limit, cutoff=0.6)
    # prefix and substring hits matter more than edit distance for ids like "kimi-k3"
    extra = [c for c in by_lower if c != lowered and (c.startswith(lowered) or lowered in c) and c not in found]
    return [by_lower[c] for c in (found + extra)[:limit]]


def _did_you_mean(names: Sequence[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"Did you mean {names[0]}?"
    return "Did you mean " + ", ".join(names[:-1]) + f" or {names[-1]}?"


def find_provider(catalog: Catalog, name: str) -> Provider:
    provider = catalog.provider(name)
    if provider is not None:
        return provider
    labels: dict[str, str] = {}
    for p in catalog.providers:
        for word in (p.id, *p.aliases, p.group_name, p.name):
            labels.setdefault(word.lower(), p.id)
    guesses: list[str] = []
    for word in close_matches(name, labels):
        provider_id = labels[word.lower()]
        shown = catalog.provider(provider_id)
        label = (
            f"{provider_id} ({shown.group_name})" if shown and shown.group_name.lower() != provider_id else provider_id
        )
        if label not in guesses:
            guesses.append(label)
    known = ", ".join(p.id for p in catalog.providers)
    raise UsageError(
        f"Unknown provider '{name}'. {_did_you_mean(guesses)}".rstrip(),
        hint=f"Known providers: {known}. `ccendpoint list` shows every model.",
    )


def find_model(provider: Provider, model_id: str) -> Model:
    model = provider.model(model_id)
    if model is not None:
        return model
    for candidate in provider.models:  # ids are case-sensitive upstream; be kind when looking up
        if candidate.id.lower() == model_id.lower():
            return candidate
    guesses = close_matches(model_id, [m.id for m in provider.models])
    raise UsageError(
        f"Unknown model '{model_id}' for {provider.group_name}. {_did_you_mean(guesses)}".rstrip(),
        hint=f"`ccendpoint list {provider.id} --all` shows its models.",
    )
