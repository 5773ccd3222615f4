"""Only programs on this machine that address the proxy as itself are served; web pages never are."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from ccendpoint.proxy.clients import client_problem
from fake_upstreams import FakeUpstream
from proxy_helpers import VSCODE_HEADERS, read_log, running_proxy, vscode_request


@pytest.mark.parametrize(
    ("headers", "served"),
    [
        (VSCODE_HEADERS, True),  # what VS Code 1.139 sends (Sec-Fetch-Mode: cors and all)
        ({"Host": "127.0.0.1:3457"}, True),
        ({"Host": "localhost:3457"}, True),
        ({"Host": "[::1]:3457"}, True),
        ({"Host": "192.168.1.20:3457"}, True),  # an address: a client of a proxy started with --host
        ({}, True),
        ({"Host": "evil.example:3457"}, False),  # DNS rebinding
        ({"Host": "127.0.0.1.nip.io:3457"}, False),
        ({"Host": "127.0.0.1:3457", "Origin": "https://evil.example"}, False),  # a page's fetch or form post
        ({"Host": "127.0.0.1:3457", "Origin": "null"}, False),
        ({"Host": "127.0.0.1:3457", "Sec-Fetch-Site": "cross-site"}, False),
        ({"Host": "127.0.0.1:3457", "Sec-Fetch-Site": "none"}, True),  # typed in the address bar
    ],
)
def test_who_is_served(headers: dict[str, str], served: bool) -> None:
    assert (client_problem({"Host": "127.0.0.1:3457", **headers} if headers else {}, "127.0.0.1") is None) is served


async def test_a_web_page_cannot_use_the_proxy_and_the_refusal_is_logged(tmp_path: object) -> None:
    from pathlib import Path

    log = Path(str(tmp_path)) / "proxy.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        body = orjson.dumps(vscode_request("kimi-k2.6", "chat"))
        page = {**VSCODE_HEADERS, "Content-Type": "text/plain", "Origin": "https://evil.example"}
        async with aiohttp.ClientSession() as session:
            for url, headers in (
                (proxy.url, page),  # a form post from a page the user opened
                (f"{proxy.base}/healthz", {"Host": f"evil.example:{proxy.port}"}),  # DNS rebinding
            ):
                async with session.request("POST" if url == proxy.url else "GET", url, data=body, headers=headers) as r:
                    assert r.status == 403
                    error = (await r.json())["error"]
                    assert error["code"] == "forbidden_client"
            async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as r:
                assert r.status == 200
    assert len(upstream.received) == 1, "the refused requests never reached the provider"
    records = await read_log(log, 3)
    assert [r["outcome"] for r in records] == ["refused_client", "refused_client", "ok"]
