"""The bundled provider and model catalog (YAML data) and its loader."""

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Catalog, Endpoint, Model, Pricing, Provider, Rule, RuleSet

__all__ = ["Catalog", "Endpoint", "Model", "Pricing", "Provider", "Rule", "RuleSet", "load_catalog"]
