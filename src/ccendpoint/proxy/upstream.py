"""The one client session every listener of the process shares, and its time-limited name lookup."""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
import aiohttp.resolver
from aiohttp.abc import AbstractResolver, ResolveResult


class BoundedResolver(AbstractResolver):
    """aiohttp's default resolver with a time limit.

    ``sock_connect`` bounds connecting, not looking the name up first; without this a resolver
    that hangs would hold a request until ``--first-byte-timeout`` (a 504 after minutes) instead
    of failing as unreachable (a 502) after the connect timeout. Only a new connection whose name
    is not in the DNS cache gets here, so requests on pooled connections pay nothing.
    """

    def __init__(self, timeout: float, inner: AbstractResolver | None = None) -> None:
        self.timeout = timeout
        self._inner = inner if inner is not None else aiohttp.resolver.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            return await asyncio.wait_for(self._inner.resolve(host, port, family), self.timeout)
        except asyncio.TimeoutError:
            # an OSError with an errno: aiohttp reports it as ClientConnectorDNSError (see relay)
            raise TimeoutError(errno.ETIMEDOUT, f"no answer within {self.timeout:g} s") from None

    async def close(self) -> None:
        await self._inner.close()


class UpstreamSession:
    """The one client session every listener of the process shares (connection pooling)."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._resolver: BoundedResolver | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._resolver = BoundedResolver(self.connect_timeout)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, limit_per_host=0, ttl_dns_cache=300, resolver=self._resolver),
                # bodies pass through as they are: a compressed answer keeps its Content-Encoding
                auto_decompress=False,
                # never keep one user's cookies for the next request
                cookie_jar=aiohttp.DummyCookieJar(),
                # no total limit: long streams are fine; silence is caught by the relay's watchdog.
                # Looking the name up is limited by the resolver, connecting by sock_connect.
                timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self.connect_timeout),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:  # a resolver given to the connector is not closed by it
            await self._resolver.close()
            self._resolver = None
