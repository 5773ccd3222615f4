"""Checking one proxy setting's value: a port, a URL, a host, a positive number, a region, an upstream.

Each check names where the value came from in its error (``--port``, ``KIMI_PROXY_PORT (from the
environment)``) and says how to fix it. :func:`check_upstream` and :func:`check_host` hold the
values that decide where the key goes, or who can reach the proxy, to more than the others.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from ccendpoint.catalog.model import Provider
from ccendpoint.errors import UsageError
from ccendpoint.urls import hostname, is_loopback_host, safe_url

#: The address the proxy listens on unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"


def check_upstream(provider: Provider, url: str, where: str, *, typed: bool, trusted: bool) -> None:
    """The upstream may receive the key: a catalog endpoint, this machine, or one the user vouched for."""
    host = hostname(url)
    catalog_hosts = {hostname(endpoint.url) for endpoint in provider.endpoints.values()}
    local = is_loopback_host(host)
    if urlsplit(url).scheme == "http" and not local and not trusted:
        raise UsageError(
            f"{where} is {safe_url(url)}: plain http to another machine would carry your API key in clear.",
            hint="Use its https URL; if you really mean it, add --trust-upstream.",
        )
    if host not in catalog_hosts and not local and not typed and not trusted:
        known = ", ".join(sorted(catalog_hosts))
        raise UsageError(
            f"{where} sends {provider.group_name} requests, with your API key, to {host}, "
            f"which is not one of the catalog's endpoints ({known}).",
            hint="If you mean it, add --trust-upstream (or type the URL with --upstream); "
            "otherwise remove the setting to use the catalog's endpoint.",
        )


def check_port(value: object, where: str) -> int:
    try:
        port = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(
            f"{where} must be a port number from 1 to 65535 (0 picks any free port), not {value!r}.",
            hint="Example: --port 3557",
        )
    return port


def check_url(value: str, where: str) -> str:
    url = value.strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises for a port that is not a number or out of range
    except ValueError:
        ok = False
    if not ok:
        shown = safe_url(url) if "://" in url else repr(url)
        raise UsageError(
            f"{where} must be an http(s) URL such as https://api.example.com/v1/chat/completions, not {shown}.",
            hint="Give the provider's full chat-completions URL, or leave it out to use the catalog's.",
        )
    return url


def check_positive(value: object, where: str, unit: str, example: float) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise UsageError(
            f"{where} must be a positive number of {unit}, not {value!r}.",
            hint=f"Use a number greater than 0, such as {example:g} (the default), or leave it out.",
        )
    return number


def check_host(value: str, where: str, *, from_flag: bool) -> str:
    host = value.strip()
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise UsageError(
            f"{where} must be an IP address or host name, not {value!r}.",
            hint=f"Use {DEFAULT_HOST} (the default: this machine only), or leave it out.",
        )
    if not from_flag and not is_loopback_host(host):
        raise UsageError(
            f"{where} is {host}, which would make the proxy reachable from the network.",
            hint=f"If you mean it, pass it on the command line: --host {host}",
        )
    return host


def region_url(provider: Provider, region: str, where: str) -> str:
    if region not in provider.endpoints:
        known = ", ".join(provider.endpoints)
        raise UsageError(
            f"{where}: {provider.group_name} has no region '{region}'. Known regions: {known}.",
            hint=f"Use one of those, e.g. --region {provider.default_region}, "
            "or leave it out for the catalog's default.",
        )
    return provider.endpoint(region).url
