"""A model's rewrite as a pipeline of steps, and a provider's pipelines by model id.

For a body and the provider's catalog entry: the model is found by ``body["model"]`` (an unknown
model gets the provider's default rule set and no body fields); its pipeline is reasoning replay
(when the rule set replays), the body fields the model needs, then each rule in order. The
conditions see the request as it arrived, once its history is repaired, so one rule cannot switch
another on. The result is a new body (the input is never changed) and the top-level keys whose
value differs from the request as it arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ccendpoint.rules.replay import Replay
from ccendpoint.rules.request import RequestFacts
from ccendpoint.rules.ruleset import RuleSet
from ccendpoint.rules.steps import AddBodyFields, ApplyRule, Change, Lookup, ReplayReasoning, Step, Work, changes_of


class ModelRules(Protocol):
    """What a pipeline needs of a catalog model (:class:`ccendpoint.catalog.model.Model` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def rules(self) -> RuleSet: ...
    @property
    def request_body(self) -> Mapping[str, Any]: ...


class ProviderRules(Protocol):
    """What a rule book needs of a catalog provider (:class:`ccendpoint.catalog.model.Provider` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def default_rules(self) -> RuleSet: ...
    @property
    def models(self) -> Sequence[ModelRules]: ...


@dataclass(frozen=True)
class Rewrite:
    body: dict[str, Any]
    changes: tuple[Change, ...]
    facts: RequestFacts
    #: False when the model id is not in the catalog (the provider's default rules were used).
    known_model: bool
    rule_set: str
    #: What reasoning replay did, when the model's rule set replays reasoning.
    replay: Replay | None = None

    @property
    def modified(self) -> bool:
        """Whether the body to send differs from the request as it arrived."""
        return bool(self.changes) or (self.replay is not None and self.replay.changed)

    def changes_text(self) -> list[str]:
        return [change.text() for change in self.changes]


@dataclass(frozen=True)
class Pipeline:
    rule_set: str
    steps: tuple[Step, ...]
    known: bool = True

    @classmethod
    def build(
        cls, scope: str, rules: RuleSet, request_body: Mapping[str, Any] | None = None, *, known: bool = True
    ) -> Pipeline:
        steps: list[Step] = []
        if rules.replay_reasoning:
            steps.append(ReplayReasoning(scope))
        if request_body:
            steps.append(AddBodyFields(dict(request_body)))
        steps += [ApplyRule(rule) for rule in rules.rules]
        return cls(rules.name, tuple(steps), known)

    @property
    def replays(self) -> bool:
        return any(isinstance(step, ReplayReasoning) for step in self.steps)

    def run(self, body: Mapping[str, Any], lookup: Lookup | None = None) -> Rewrite:
        work = Work(dict(body), lookup)
        for step in self.steps:
            if not step.repairs_history:
                _ = work.facts  # taken once the history is repaired, before any field changes
            step.apply(work)
        return Rewrite(work.body, changes_of(work), work.facts, self.known, self.rule_set, work.replay)

    def sentences(self) -> list[str]:
        """Every step in plain words, in order (``show`` and the provider pages)."""
        return [step.sentence() for step in self.steps] or ["Forwards the request unchanged."]

    def short(self) -> str:
        """One line, e.g. ``replay reasoning; max_tokens=4096; [tools+reasoning-missing] thinking=…``."""
        return "; ".join(step.short() for step in self.steps) or "pass-through"


def model_pipeline(provider_id: str, model: ModelRules) -> Pipeline:
    return Pipeline.build(provider_id, model.rules, model.request_body)


class RuleBook:
    """A provider's pipelines, looked up by model id. Built once per listener (or gateway worker)."""

    def __init__(self, provider: ProviderRules) -> None:
        self.provider_id = provider.id
        self.default = Pipeline.build(provider.id, provider.default_rules, known=False)
        self._by_model = {model.id: model_pipeline(provider.id, model) for model in provider.models}

    def knows(self, model_id: str) -> bool:
        return model_id in self._by_model

    def pipeline(self, model_id: Any) -> Pipeline:
        found = self._by_model.get(model_id) if isinstance(model_id, str) else None
        return found or self.default

    def replays(self) -> bool:
        """Whether any model's pipeline replays reasoning (so a cache is worth keeping)."""
        return self.default.replays or any(p.replays for p in self._by_model.values())

    def rewrite(self, body: Mapping[str, Any], lookup: Lookup | None = None) -> Rewrite:
        """Run the pipeline of ``body["model"]``; the caller has checked that it is a string."""
        return self.pipeline(body.get("model")).run(body, lookup)

    def short(self) -> dict[str, str]:
        """Model id → the pipeline in short words, for health checks and start-up lines."""
        return {model_id: pipeline.short() for model_id, pipeline in self._by_model.items()}

    def summary(self, model_ids: Sequence[str]) -> list[tuple[list[str], str]]:
        """The models grouped by what is done to them: ([model ids], short words)."""
        groups: dict[str, list[str]] = {}
        for model_id in model_ids:
            groups.setdefault(self.pipeline(model_id).short(), []).append(model_id)
        return [(ids, text) for text, ids in groups.items()]
