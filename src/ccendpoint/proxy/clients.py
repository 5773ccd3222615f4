"""Who may talk to the proxy: programs on this machine that address it as itself, never a web page.

VS Code's requests (observed in VS Code 1.139) name the proxy by address (``Host: 127.0.0.1:3457``)
and carry no ``Origin`` or ``Referer``. Two kinds of request are refused, whatever the route:

* one sent by a web page: browsers add ``Origin`` to a cross-site POST (a form post too), and
  ``Sec-Fetch-Site`` to whatever they send; VS Code sends neither (its ``Sec-Fetch-Mode: cors``
  comes from its HTTP library, not from a page);
* one whose ``Host`` is a name other than ``localhost`` or the listening host: a DNS-rebinding page
  reaches the proxy through a name of its own, and is recognised by it. IP literals are accepted,
  as a client on another machine of a proxy started with ``--host`` uses the machine's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from ccendpoint.urls import is_loopback_host

#: ``Sec-Fetch-Site`` values a browser sends for a request a page made.
_FROM_A_PAGE = {"cross-site", "same-site", "same-origin"}


def _host_name(host: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:3457``, ``::1`` of ``[::1]:3457``, ``name`` of ``name``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def client_problem(headers: Mapping[str, str], listening_host: str) -> str | None:
    """Why this request must be refused, or None when it may be served."""
    origin = headers.get("Origin")
    if origin is not None:
        return f"requests from web pages are not served (Origin {origin[:80]}); VS Code sends none."
    site = headers.get("Sec-Fetch-Site", "").lower()
    if site in _FROM_A_PAGE:
        return "requests from web pages are not served; VS Code sends none."
    host = headers.get("Host")
    if host is None:
        return None  # HTTP/1.0 clients; nothing to check
    name = _host_name(host)
    allowed = {"localhost", listening_host.strip("[]").lower()}
    if name in allowed or _is_ip(name) or is_loopback_host(name):
        return None
    return f"Host {host[:80]} is not this proxy's address; use http://{listening_host}:PORT."
