"""Which headers pass through the proxy: everything end to end, nothing that describes one connection."""

from __future__ import annotations

from typing import Any

from multidict import CIMultiDict

from ccendpoint.proxy.errors import JSON_TYPE

#: Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus old proxy variants.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not forwarded upstream: recomputed by the client session (host, length) or answered here (expect).
REQUEST_SKIP = HOP_BY_HOP | {"host", "content-length", "expect"}
RESPONSE_SKIP = HOP_BY_HOP


def _connection_tokens(headers: Any) -> frozenset[str]:
    values = headers.getall("Connection", ())
    return frozenset(token.strip().lower() for value in values for token in value.split(","))


def _end_to_end(headers: Any, skip: frozenset[str]) -> CIMultiDict[str]:
    """``headers`` without ``skip`` and without the headers their ``Connection`` header names."""
    if "Connection" in headers:
        skip = skip | _connection_tokens(headers)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in skip:
            out.add(name, value)
    return out


def forward_headers(incoming: Any) -> CIMultiDict[str]:
    """The client's headers for the upstream: no hop-by-hop ones, ``Authorization`` unchanged."""
    out = _end_to_end(incoming, REQUEST_SKIP)
    out["Content-Type"] = JSON_TYPE
    if "Accept-Encoding" not in out:
        # otherwise the client session would ask for gzip on the client's behalf, and the
        # compressed body (passed through as it is) would reach a client that never asked for it
        out["Accept-Encoding"] = "identity"
    return out


def response_headers(upstream: Any) -> CIMultiDict[str]:
    return _end_to_end(upstream, RESPONSE_SKIP)
