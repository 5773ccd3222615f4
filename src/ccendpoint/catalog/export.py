"""Catalog objects as plain data, for ``--json`` output and generated docs."""

from __future__ import annotations

from typing import Any

from ccendpoint.catalog.cost import off_peak_session_cost, session_cost
from ccendpoint.catalog.model import Model, Pricing, Provider
from ccendpoint.rules.pipeline import Pipeline, model_pipeline


def pricing_dict(pricing: Pricing | None) -> dict[str, Any] | None:
    if pricing is None:
        return None
    return {
        "input": pricing.input,
        "cached_input": pricing.cached_input,
        "output": pricing.output,
        "currency": pricing.currency,
        "per": "1M tokens",
        "date": pricing.date,
        "source": pricing.source or None,
        "note": pricing.note or None,
        "peak": None
        if pricing.peak is None
        else {
            "days": list(pricing.peak.days),
            "hours_utc": [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in pricing.peak.hours_utc],
            "off_peak_factor": pricing.peak.off_peak_factor,
            "text": pricing.peak.describe(),
        },
    }


def model_dict(provider: Provider, model: Model) -> dict[str, Any]:
    return {
        "provider": provider.id,
        "id": model.id,
        "name": model.name,
        "status": model.status,
        "replacement": model.replacement,
        "end_of_life": model.end_of_life,
        "context": model.context,
        "max_output": model.max_output,
        "output_limit": model.output_limit,
        "default_output": model.default_output,
        "max_output_why": model.max_output_why or None,
        "vision": model.vision,
        "tool_calling": model.tool_calling,
        "streaming": model.streaming,
        "thinking": model.thinking,
        "proxy": provider.proxy_mode,
        "proxy_port": provider.proxy_port,
        "pricing": pricing_dict(model.pricing),
        "session_cost": session_cost(model.pricing),
        "session_cost_off_peak": off_peak_session_cost(model.pricing),
        "request_body": dict(model.request_body),
        "rule_set": model.rules.name,
        "rules": model_pipeline(provider.id, model).sentences(),
        "rules_short": model_pipeline(provider.id, model).short(),
        "facts_date": model.facts_date,
        "source": model.source or None,
        "assumed": list(model.assumed),
        "notes": list(model.notes),
    }


def provider_dict(provider: Provider, *, include_deprecated: bool = True) -> dict[str, Any]:
    models = provider.models if include_deprecated else provider.current_models()
    return {
        "id": provider.id,
        "name": provider.name,
        "group_name": provider.group_name,
        "aliases": list(provider.aliases),
        "origin": provider.origin,
        "description": provider.description,
        "docs_url": provider.docs_url,
        "key_url": provider.key_url,
        "api_key": {
            "env": list(provider.key_env),
            "format": provider.key_format,
            "prefixes": list(provider.key_prefixes),
        },
        "endpoints": [
            {
                "region": e.region,
                "url": e.url,
                "label": e.label,
                "note": e.note or None,
                "key_prefixes": list(e.key_prefixes),
                "default": e.region == provider.default_region,
            }
            for e in provider.endpoints.values()
        ],
        "proxy": {
            "mode": provider.proxy_mode,
            "port": provider.proxy_port,
            "url": provider.proxy_url,
            "why": provider.proxy_why,
            "env": proxy_env_names(provider),
            "rule_sets": {
                name: {"summary": rs.summary, "rules": Pipeline.build(provider.id, rs).sentences()}
                for name, rs in provider.rule_sets.items()
            },
            "default_rule_set": provider.default_rules.name,
        },
        "troubleshooting": [{"symptom": t.symptom, "cause": t.cause, "fix": t.fix} for t in provider.troubleshooting],
        "models": [model_dict(provider, m) for m in models],
    }


def proxy_env_names(provider: Provider) -> dict[str, str]:
    """Environment variables the proxy reads for this provider (names kept from the Node proxies)."""
    prefix = provider.env_prefix
    return {
        "port": f"{prefix}_PROXY_PORT",
        "upstream": f"{prefix}_UPSTREAM_URL",
        "log": f"{prefix}_PROXY_LOG",
    }
