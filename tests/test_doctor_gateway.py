"""doctor and groups that call a team's LiteLLM gateway: recognised, probed, and not judged as direct calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, fixture_catalog, fixture_provider
from ccendpoint.cli import app
from ccendpoint.doctor.config_checks import check_catalog
from ccendpoint.doctor.gateway_checks import Answer, check_gateways, gateway_groups, without_gateways
from ccendpoint.vscode.blocks import GroupOptions, render_group
from ccendpoint.vscode.gateway import render_gateway_group

GATEWAY = "https://llm.example.com"
KEY = "sk-gateway-0123456789abcdef0123456789"


def gateway_group(url: str = GATEWAY, **options: Any) -> dict[str, Any]:
    return render_gateway_group(fixture_provider("orbit"), GroupOptions(**options), url, allow_plain_http=True)


class FakeGateway:
    """Answers like LiteLLM's proxy: liveliness without a key, the model list only with ``KEY``."""

    def __init__(self, served: list[str], health: int = 200) -> None:
        self.served, self.health = served, health
        self.requests: list[tuple[str, str | None]] = []

    def __call__(self, url: str, headers: Mapping[str, str]) -> Answer:
        path = url.removeprefix(GATEWAY)
        self.requests.append((path, headers.get("Authorization")))
        if path == "/health/liveliness":
            return Answer(self.health, b'"I\'m alive!"')
        if path == "/v1/models":
            if headers.get("Authorization") != f"Bearer {KEY}":
                return Answer(401, b'{"error": {"message": "Authentication Error"}}')
            return Answer(200, json.dumps({"data": [{"id": name} for name in self.served]}).encode())
        return Answer(404)


def levels(findings: list[Any]) -> dict[str, str]:
    return {f.check: f.level for f in findings}


def test_a_gateway_group_is_recognised_and_other_groups_are_not() -> None:
    catalog = fixture_catalog()
    direct = render_group(fixture_provider("orbit"), GroupOptions(mode="direct", force=True))
    proxied = render_group(fixture_provider("orbit"))
    plain_url = {
        **gateway_group(),
        "models": [{k: v for k, v in m.items() if k != "requestHeaders"} for m in gateway_group()["models"]],
    }
    document = [direct, proxied, gateway_group(GATEWAY + "/v1"), plain_url]
    found = gateway_groups(document, catalog)
    assert [(g.base, g.model_ids) for g in found] == [(GATEWAY, ("orbit-pro", "orbit-flash", "orbit-lite"))]
    assert without_gateways(document, catalog) == [direct, proxied, plain_url]


def test_a_gateway_group_is_not_told_it_skips_the_proxy() -> None:
    catalog = fixture_catalog()
    document = [gateway_group()]
    unfiltered = {f.check for f in check_catalog(document, catalog)}
    assert {"catalog.proxy-required", "catalog.url"} <= unfiltered  # what it would be told as a direct call
    assert {f.check for f in check_catalog(without_gateways(document, catalog), catalog)} == {"catalog"}


def test_a_gateway_serving_every_model_is_fine_and_gets_the_key_only_for_its_model_list() -> None:
    fake = FakeGateway(["orbit-pro", "orbit-flash", "orbit-lite", "kimi-k2.6"])
    findings = check_gateways([gateway_group()], fixture_catalog(), fake, {"CCENDPOINT_GATEWAY_KEY": KEY})
    assert levels(findings) == {"gateway.health": "ok", "gateway.models": "ok"}
    assert fake.requests == [("/health/liveliness", None), ("/v1/models", f"Bearer {KEY}")]
    assert all(KEY not in f.what + f.why + f.fix for f in findings)


def test_models_the_gateway_does_not_serve_are_an_error() -> None:
    fake = FakeGateway(["orbit-pro"])
    findings = check_gateways([gateway_group()], fixture_catalog(), fake, {"CCENDPOINT_GATEWAY_KEY": KEY})
    missing = next(f for f in findings if f.check == "gateway.models-missing")
    assert missing.level == "error"
    assert "orbit-flash, orbit-lite" in missing.what


@pytest.mark.parametrize(
    ("environ", "health", "expected"),
    [
        ({}, 200, {"gateway.health": "ok", "gateway.models-unchecked": "warning"}),
        ({"CCENDPOINT_GATEWAY_KEY": "sk-wrong-key-0123456789"}, 200, {"gateway.health": "ok", "gateway.key": "error"}),
        ({}, 503, {"gateway.health": "error"}),
    ],
)
def test_no_key_a_wrong_key_and_an_unhealthy_gateway(
    environ: dict[str, str], health: int, expected: dict[str, str]
) -> None:
    fake = FakeGateway(["orbit-pro"], health=health)
    assert levels(check_gateways([gateway_group()], fixture_catalog(), fake, environ)) == expected


def test_an_unreachable_gateway() -> None:
    def nothing(url: str, headers: Mapping[str, str]) -> Answer:
        return Answer(None, detail="Connection refused")

    findings = check_gateways([gateway_group()], fixture_catalog(), nothing, {})
    assert [(f.check, f.level) for f in findings] == [("gateway.unreachable", "error")]
    assert "Connection refused" in findings[0].what


class _Handler(BaseHTTPRequestHandler):
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path == "/health/liveliness":
            body, status = b'"ok"', 200
        elif self.path == "/v1/models" and self.headers.get("Authorization") == f"Bearer {KEY}":
            body, status = json.dumps({"data": [{"id": n} for n in self.served]}).encode(), 200
        else:
            body, status = b'{"error": {"message": "Authentication Error"}}', 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_gateway() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_doctor_probes_the_gateway_of_a_group_in_the_file(
    local_gateway: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Handler.served = ["orbit-pro", "orbit-flash"]
    target = isolated_home / ".config" / "Code" / "User" / "chatLanguageModels.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps([gateway_group(local_gateway)]), "utf-8")
    monkeypatch.setenv("CCENDPOINT_GATEWAY_KEY", KEY)
    result = CliRunner().invoke(app, [*CATALOG_ARGS, "doctor", "--json", "--file", str(target)])
    found = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert found["gateway.health"]["level"] == "ok"
    assert found["gateway.models-missing"]["what"].endswith("does not serve orbit-lite.")
    assert not {"catalog.proxy-required", "catalog.url", "proxy.other-program", "proxy.not-running"} & set(found)
    assert result.exit_code == 1
    assert KEY not in result.stdout
