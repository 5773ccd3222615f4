"""``doctor --live``: the catalog drift check for every provider the config uses.

Each provider is asked once, at its catalog endpoint (the region the config's models point at,
else the default), never at the URL in the config: the key only goes where the catalog says the
provider is. Providers without a key in the environment are left to ``live.no-key``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ccendpoint.catalog.drift import Drift, DriftFailure, Served, compare, fetch_served, models_url
from ccendpoint.catalog.model import Catalog, Provider
from ccendpoint.doctor.findings import Finding, ok, warning
from ccendpoint.doctor.live import Target, api_key, targets
from ccendpoint.urls import hostname

Fetch = Callable[[str, str], Served]


def _region_url(provider: Provider, config_urls: Sequence[str]) -> str:
    """The catalog endpoint the config uses (same host), else the default region's."""

    hosts = {hostname(url) for url in config_urls}
    for endpoint in provider.endpoints.values():
        if hostname(endpoint.url) in hosts:
            return endpoint.url
    return provider.endpoint().url


def _listing(drift: Drift) -> str:
    parts = []
    for label, ids in (
        ("served but unknown to the catalog", drift.unknown),
        ("in the catalog but no longer served", drift.gone),
        ("deprecated in the catalog but still served", drift.deprecated_but_served),
    ):
        if ids:
            parts.append(f"{label}: {', '.join(ids)}")
    return "; ".join(parts)


def check_drift(
    document: Any,
    catalog: Catalog,
    *,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    fetch: Fetch | None = None,
    timeout: float = 30.0,
) -> list[Finding]:
    env = os.environ if environ is None else environ
    ask = fetch or (lambda url, key: fetch_served(url, key, timeout=timeout))
    by_provider: dict[str, tuple[Provider, list[Target]]] = {}
    for target in targets(document, catalog, only):
        by_provider.setdefault(target.provider.id, (target.provider, []))[1].append(target)
    findings: list[Finding] = []
    for provider, chosen in by_provider.values():
        key, _ = api_key(provider, env)
        if key is None:
            continue
        url = models_url(_region_url(provider, [t.url for t in chosen]))
        try:
            served = ask(url, key)
        except DriftFailure as failure:
            findings.append(
                warning(
                    "catalog.drift-unchecked",
                    f"{provider.group_name}: could not compare the catalog with what it serves: {failure.message}.",
                    "The drift check asks the provider's /models with your key.",
                    failure.hint or f"Run `ccendpoint catalog drift {provider.id}` again later.",
                )
            )
            continue
        drift = compare(provider, served.ids)
        if not drift.drifted:
            findings.append(
                ok("catalog.drift", f"{provider.group_name}: the catalog matches the {drift.served} served models.")
            )
            continue
        findings.append(
            warning(
                "catalog.drift",
                f"{provider.group_name}: the catalog differs from what the provider serves: {_listing(drift)}.",
                "Models, limits or prices in the catalog may be out of date.",
                "Install a newer catalog (`ccendpoint catalog update --from URL`; `ccendpoint catalog status` "
                f"shows its age), or see `ccendpoint catalog drift {provider.id}`.",
            )
        )
    return findings
