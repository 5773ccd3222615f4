"""The bundled provider and model catalog (YAML data) and its loader."""

from __future__ import annotations

from typing import Any

from ccendpoint.catalog.model import Catalog, Endpoint, Model, Pricing, Provider, Rule, RuleSet

__all__ = ["Catalog", "Endpoint", "Model", "Pricing", "Provider", "Rule", "RuleSet", "load_catalog"]


def __getattr__(name: str) -> Any:
    # the loader needs PyYAML; a process that only builds providers from checked data never loads it
    if name == "load_catalog":
        from ccendpoint.catalog.loader import load_catalog

        return load_catalog
    raise AttributeError(name)
