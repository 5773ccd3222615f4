"""``add --discover``: the models a provider serves that the catalog does not know yet, asked of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

from ccendpoint.catalog.drift import DriftFailure, compare, discovered_models, fetch_served, models_url
from ccendpoint.catalog.model import Provider
from ccendpoint.commands import common
from ccendpoint.doctor.live import api_key
from ccendpoint.errors import CcendpointError, UsageError


def with_discovered(prov: Provider, region: str | None) -> Provider:
    """The provider plus the served models the catalog does not know (``add --discover``)."""
    key, _ = api_key(prov, os.environ)
    if key is None:
        names = " or ".join(prov.key_env) or "the provider's key variable"
        raise UsageError(
            f"--discover asks {prov.group_name} which models it serves, and needs its key.", hint=f"Set {names}."
        )
    if region is not None and region not in prov.endpoints:
        raise UsageError(
            f"Unknown region '{region}' for {prov.group_name}.", hint=f"Known regions: {', '.join(prov.endpoints)}."
        )
    url = models_url(prov.endpoint(region).url)
    try:
        served = fetch_served(url, key)
    except DriftFailure as failure:
        raise CcendpointError(f"--discover: {failure.message}.", hint=failure.hint or None) from None
    unknown = compare(prov, served.ids).unknown
    err = common.err_console()
    if not unknown:
        err.print(f"--discover: {prov.group_name} serves nothing the catalog does not know.", markup=False)
        return prov
    err.print(
        f"--discover: adding {len(unknown)} served model(s) the catalog does not know, with conservative "
        f"settings (no vision, no tools, VS Code's default limits; edit them in VS Code if they can do more): "
        + ", ".join(unknown),
        markup=False,
    )
    extra = discovered_models(prov, unknown, url, dt.date.today().isoformat())
    return dataclasses.replace(prov, models=prov.models + extra)
