"""URLs as ccendpoint reads and writes them: host, port, loopback, a printable form, the proxy's URL."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

#: Where VS Code posts chat requests, under the proxy's address.
CHAT_PATH = "/v1/chat/completions"
LOCAL_HOST = "127.0.0.1"


def proxy_url(port: int | None, host: str = LOCAL_HOST) -> str:
    """The local proxy's chat URL, as ``add`` writes it and the proxy prints it."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{CHAT_PATH}"


def hostname(url: str) -> str:
    """The URL's host ("" for a URL that cannot be read, such as ``http://[::1/v1``)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def port_of(url: str) -> int | None:
    """The URL's port, or the scheme's (443, 80); None for a URL that cannot be read."""
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.1``, ``::1``, …)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    host = hostname(url)
    return bool(host) and is_loopback_host(host)


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment: safe to print, log and show in health checks."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<invalid URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
