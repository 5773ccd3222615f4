"""Catalog documents (checked YAML data) → the typed view: providers, models, prices, rule sets.

Kept apart from the loader (which reads and checks files, with PyYAML and jsonschema) so that a
process handed checked documents, such as the proxy's serving process, builds providers without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccendpoint.catalog.model import WEEKDAYS, Endpoint, Model, Peak, Pricing, Provider, Troubleshooting
from ccendpoint.redact import learn_key_prefixes
from ccendpoint.rules.ruleset import NO_RULES, RuleSet


def provider_from_data(doc: Mapping[str, Any], origin: str) -> Provider:
    """A provider from a catalog document that has already been checked (as :attr:`Provider.data` holds it).

    Its key prefixes are taught to the secret masker, so every output masks this provider's keys.
    """
    learn_key_prefixes(doc.get("api_key", {}).get("prefixes", ()))
    rule_sets = {name: RuleSet.from_data(name, data) for name, data in doc.get("rule_sets", {}).items()}
    proxy = doc["proxy"]
    default_rules = rule_sets.get(proxy.get("default_rules", ""), NO_RULES)
    models = []
    for m in doc.get("models", []):
        vscode = m.get("vscode", {})
        pricing = m.get("pricing")
        models.append(
            Model(
                id=m["id"],
                name=m["name"],
                vision=m["vision"],
                tool_calling=m["tool_calling"],
                thinking=m["thinking"],
                facts_date=m["facts_date"],
                rules=rule_sets.get(m.get("rules", ""), default_rules),
                streaming=m.get("streaming", True),
                status=m.get("status", "current"),
                replacement=m.get("replacement"),
                end_of_life=m.get("end_of_life"),
                context=m.get("context"),
                max_output=m.get("max_output"),
                vscode_thinking=vscode.get("thinking"),
                model_options=dict(vscode.get("model_options", {})),
                reasoning_effort=tuple(m.get("reasoning_effort", ())),
                request_body=dict(m.get("request_body", {})),
                pricing=_pricing(pricing) if pricing else None,
                notes=tuple(m.get("notes", ())),
                source=str(m.get("source", "")),
                output_limit=m.get("output_limit"),
                default_output=m.get("default_output"),
                max_output_why=" ".join(str(m.get("max_output_why", "")).split()),
                assumed=tuple(m.get("assumed", ())),
            )
        )
    api_key = doc.get("api_key", {})
    return Provider(
        id=doc["id"],
        name=doc["name"],
        group_name=doc.get("group_name", doc["name"]),
        endpoints={
            region: Endpoint(
                region=region,
                url=e["url"],
                label=e.get("label", ""),
                note=e.get("note", ""),
                key_prefixes=tuple(e.get("key_prefixes", ())),
            )
            for region, e in doc["endpoints"].items()
        },
        default_region=doc["default_region"],
        proxy_mode=proxy["mode"],
        proxy_port=proxy.get("port"),
        env_prefix=proxy.get("env_prefix", doc["id"].upper().replace("-", "_").replace(".", "_")),
        proxy_why=" ".join(str(proxy.get("why", "")).split()),
        models=tuple(models),
        default_rules=default_rules,
        rule_sets=rule_sets,
        aliases=tuple(doc.get("aliases", ())),
        description=" ".join(str(doc.get("description", "")).split()),
        docs_url=doc.get("docs_url"),
        key_url=doc.get("key_url"),
        key_env=tuple(api_key.get("env", ())),
        key_format=" ".join(str(api_key.get("format", "")).split()),
        key_prefixes=tuple(api_key.get("prefixes", ())),
        troubleshooting=tuple(
            Troubleshooting(t["symptom"], t["cause"], t["fix"]) for t in doc.get("troubleshooting", [])
        ),
        discovery_include=tuple(doc.get("discovery", {}).get("include", ())),
        discovery_exclude=tuple(doc.get("discovery", {}).get("exclude", ())),
        origin=origin,
        data=doc,
    )


def minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _pricing(data: Mapping[str, Any]) -> Pricing:
    peak = data.get("peak")
    return Pricing(
        input=float(data["input"]),
        output=float(data["output"]),
        currency=data["currency"],
        date=data["date"],
        cached_input=None if data.get("cached_input") is None else float(data["cached_input"]),
        note=data.get("note", ""),
        source=str(data.get("source", "")),
        peak=Peak(
            days=tuple(d for d in WEEKDAYS if d in peak["days"]),
            hours_utc=tuple(
                (minutes(window.split("-")[0]), minutes(window.split("-")[1])) for window in peak["hours_utc"]
            ),
            off_peak_factor=float(peak["off_peak_factor"]),
        )
        if peak
        else None,
    )
