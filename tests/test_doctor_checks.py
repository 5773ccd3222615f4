"""doctor's pure checks over parsed config, settings and proxy probes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from catalog_helpers import fixture_catalog, fixture_provider
from ccendpoint.doctor.config_checks import check_catalog, check_keys, check_structure
from ccendpoint.doctor.findings import Finding, exit_code
from ccendpoint.doctor.proxy_checks import check_proxies
from ccendpoint.doctor.settings_checks import check_settings, parse_version
from ccendpoint.proxy.probe import Probe, http_probe
from ccendpoint.redact import hint
from ccendpoint.vscode.blocks import GroupOptions, render_group

SECRET = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def group(provider: str, **options: Any) -> dict[str, Any]:
    """What ``add`` writes for a fixture provider: orbit needs the proxy (port 4300), clockwork is direct (4200)."""
    return render_group(fixture_provider(provider), GroupOptions(**options))


def checks(findings: list[Finding]) -> set[str]:
    return {f.check for f in findings if f.level != "ok"}


def test_a_config_written_by_add_is_clean() -> None:
    doc = [group("orbit"), group("clockwork", mode="direct")]
    doc[1]["apiKey"] = "${input:chat.lm.secret.-60b744f3}"
    assert checks(check_structure(doc)) == set()
    assert checks(check_keys(doc)) == set()
    # cw-mystery needs thinking in its body, which only the proxy adds
    [body] = [f for f in check_catalog(doc, fixture_catalog()) if f.level != "ok"]
    assert body.check == "catalog.body-fields" and "'cw-mystery' needs thinking" in body.what


def test_top_level_must_be_a_list() -> None:
    findings = check_structure({"name": "Kimi"})
    assert findings[0].level == "error" and findings[0].check == "file.shape"
    assert exit_code(findings) == 1


def test_duplicates_group_url_customoai_and_bad_urls() -> None:
    orbit = group("orbit")
    orbit["models"].append(dict(orbit["models"][0]))
    other = {"name": "Orbit", "vendor": "customendpoint", "url": "https://x", "models": [{"id": "a", "url": "ftp://x"}]}
    old = {"name": "CustomOAI", "vendor": "customoai", "models": []}
    empty = {"name": "E", "vendor": "customendpoint", "models": [{"id": "gpt-4.1", "url": ""}]}
    findings = check_structure([orbit, other, old, empty])
    assert checks(findings) == {"file.schema", "groups.group-url", "groups.customoai"}
    problems = " | ".join(f.what for f in findings if f.check == "file.schema")
    for expected in ('"Orbit"', "orbit-pro", "gpt-4.1", "http"):
        assert expected in problems, expected
    assert all(f.fix for f in findings)


def test_plaintext_keys_are_reported_masked() -> None:
    direct = group("clockwork", mode="direct")
    direct["apiKey"] = SECRET
    direct["models"][0]["requestHeaders"] = {"Authorization": f"Bearer {SECRET}"}
    findings = check_keys([direct])
    assert checks(findings) == {"keys.plaintext", "keys.header-plaintext"}
    text = repr(findings)
    assert SECRET not in text and SECRET[4:] not in text
    assert hint(SECRET) in text


def test_header_with_api_key_placeholder_is_fine_and_missing_key_is_flagged() -> None:
    direct = group("clockwork", mode="direct")
    assert checks(check_keys([direct])) == {"keys.missing"}
    direct["models"][0]["requestHeaders"] = {"Authorization": "Bearer ${apiKey}"}
    assert checks(check_keys([direct])) == set()
    assert checks(check_keys([group("orbit")])) == set()  # proxy URLs need no key in the file


def test_catalog_drift_deprecated_unknown_and_direct_mode() -> None:
    orbit = group("orbit", mode="direct", force=True)
    orbit["models"][0]["maxOutputTokens"] = 999
    orbit["models"].append({"id": "orbit-1-turbo", "url": "https://api.orbit.test/v1/chat/completions"})
    orbit["models"].append({"id": "orbit-pro2", "url": "https://api.orbit.test/v1/chat/completions"})
    findings = check_catalog([orbit], fixture_catalog())
    found = checks(findings)
    assert {"catalog.limits", "catalog.deprecated", "catalog.unknown-model", "catalog.proxy-required"} <= found
    limits = next(f for f in findings if f.check == "catalog.limits")
    assert "maxOutputTokens 999; the catalog says 131072" in limits.what
    deprecated = next(f for f in findings if f.check == "catalog.deprecated")
    assert "'orbit-1-turbo' is deprecated" in deprecated.what and "--models orbit-pro`" in deprecated.fix
    unknown = next(f for f in findings if f.check == "catalog.unknown-model")
    assert "'orbit-pro2' is not a Orbit model" in unknown.what and "Did you mean orbit-pro," in unknown.what


def test_an_entry_from_an_older_version_is_told_what_vscode_needs_now() -> None:
    """requestBody (ignored by VS Code) and no modelOptions (Orbit refuses VS Code's sampling)."""
    orbit = group("orbit", model_ids=["orbit-flash", "orbit-pro"])
    old = orbit["models"][0]
    del old["modelOptions"]
    old["requestBody"] = {"temperature": 1, "top_p": 0.95}
    found = {
        f.check: f for f in [*check_structure([orbit]), *check_catalog([orbit], fixture_catalog())] if f.level != "ok"
    }
    assert set(found) == {"groups.request-body", "catalog.vscode-fields"}
    assert "orbit-flash" in found["groups.request-body"].what and "orbit-pro" not in found["groups.request-body"].what
    assert "'orbit-flash' has no modelOptions" in found["catalog.vscode-fields"].what
    assert 'modelOptions {"temperature":1,"top_p":0.95}' in found["catalog.vscode-fields"].what
    assert "ccendpoint add orbit" in found["catalog.vscode-fields"].fix


def test_required_proxy_in_direct_mode_and_foreign_url() -> None:
    orbit = group("orbit", mode="direct", model_ids=["orbit-pro"], force=True)
    assert checks(check_catalog([orbit], fixture_catalog())) == {"catalog.proxy-required"}
    orbit["models"][0]["url"] = "https://api.orbit.test/v2/chat"
    [url] = [f for f in check_catalog([orbit], fixture_catalog()) if f.check == "catalog.url"]
    assert "calls https://api.orbit.test/v2/chat, which is not one of Orbit's endpoints" in url.what


BOTH = {"chat.utilityModel": "customendpoint/m1", "chat.utilitySmallModel": "customendpoint/m1"}


@pytest.mark.parametrize(
    ("settings", "version", "expected"),
    [
        ({}, (1, 133, 0), {"settings.agent-host", "settings.utility-model"}),
        ({"chat.agentHost.byokModels.enabled": True, **BOTH}, (1, 133, 0), set()),
        (BOTH, (1, 131, 2), set()),
        (BOTH, None, set()),
        # VS Code 1.139 asks for both; the small one alone still shows the banner
        ({"chat.utilitySmallModel": "customendpoint/m1"}, None, {"settings.utility-model"}),
        ({"chat.byokUtilityModelDefault": "mainAgent"}, None, set()),
        # the group name is not part of the reference; a model two groups share is ambiguous
        ({**BOTH, "chat.utilityModel": "customendpoint/Group/m1"}, None, {"settings.utility-reference"}),
        ({**BOTH, "chat.utilityModel": "customendpoint/m2"}, None, {"settings.utility-reference"}),
        ({**BOTH, "chat.utilityModel": "copilot/gpt-5-mini"}, None, set()),
    ],
)
def test_settings(settings: dict[str, Any], version: tuple[int, int, int] | None, expected: set[str]) -> None:
    findings = check_settings(settings, version, custom_models=3, model_ids=["m1", "m2", "m2"])
    assert checks(findings) == expected
    if version is None:
        assert any("version unknown" in f.what for f in findings)


def test_version_parsing() -> None:
    assert parse_version("1.133.0\nabc123\nx64\n") == (1, 133, 0)
    assert parse_version("nothing") is None


def test_proxy_states() -> None:
    doc = [group("orbit"), group("clockwork", mode="proxy")]
    answers = {
        4300: Probe("closed"),
        4200: Probe("ccendpoint", health={"provider": "orbit", "version": "0.1.0"}),
    }
    findings = check_proxies(doc, fixture_catalog(), lambda port: answers[port])
    by_check = {f.check: f for f in findings}
    assert "Nothing listens on 127.0.0.1:4300" in by_check["proxy.not-running"].what
    assert by_check["proxy.not-running"].fix == (
        "Run `ccendpoint service install orbit` so the proxy starts at every login "
        "(or `ccendpoint proxy orbit` in a terminal you keep open)."
    )
    assert "serves orbit" in by_check["proxy.wrong-provider"].what
    proxied = group("clockwork", mode="proxy")
    answer = Probe("ccendpoint", {"provider": "clockwork", "version": "1"})
    ok = check_proxies([proxied], fixture_catalog(), lambda port: answer)
    assert [f.level for f in ok] == ["ok"]
    other = check_proxies([proxied], fixture_catalog(), lambda port: Probe("other", detail="nginx"))
    assert other[0].check == "proxy.other-program" and "--port N" in other[0].fix


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[HTTPServer, int]:
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_http_probe_tells_ours_from_others(free_port: int) -> None:
    assert http_probe(free_port).state == "closed"

    class Ours(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true, "provider": "kimi", "version": "0.1.0"}')

        def log_message(self, *args: Any) -> None:
            pass

    class Theirs(Ours):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

    for handler, state in ((Ours, "ccendpoint"), (Theirs, "other")):
        server, port = _serve(handler)
        try:
            assert http_probe(port).state == state
        finally:
            server.shutdown()


def test_proxy_fix_names_the_port_when_it_is_not_the_catalog_one() -> None:
    orbit = group("orbit", port=4999)
    findings = check_proxies([orbit], fixture_catalog(), lambda port: Probe("closed"))
    assert findings[0].fix == (
        "Run `ccendpoint proxy orbit --port 4999` and keep it running while you use VS Code, or set "
        "ORBIT_PROXY_PORT=4999 in the config folder's .env and run `ccendpoint service install orbit`."
    )


def test_a_proxy_the_service_should_run_points_at_the_service() -> None:
    from ccendpoint.service.manage import Status
    from ccendpoint.service.spec import Served

    service = Status("failed", "it exited with code 1", system="systemd user unit", served=Served(("orbit",)))
    [finding] = check_proxies([group("orbit")], fixture_catalog(), lambda port: Probe("closed"), service)
    assert finding.check == "proxy.service-down" and "it is failed" in finding.what
    assert "ccendpoint service logs" in finding.fix
    other = Status("running", served=Served(("clockwork",)))
    [finding] = check_proxies([group("orbit")], fixture_catalog(), lambda port: Probe("closed"), other)
    assert finding.check == "proxy.not-running" and "ccendpoint service install orbit" in finding.fix


def test_service_findings() -> None:
    from ccendpoint.doctor.proxy_checks import check_service
    from ccendpoint.service.manage import Status
    from ccendpoint.service.spec import Served

    assert [f.level for f in check_service(None)] == ["ok"]
    stale = Status("failed", "exit 203", program="/gone/ccendpoint", program_exists=False, served=Served(("kimi",)))
    assert {f.check: f.level for f in check_service(stale)} == {"service.stale": "error", "service.failed": "error"}
    moved = Status("running", program="/a/ccendpoint", current_program="/b/ccendpoint", served=Served(("kimi",)))
    assert [f.check for f in check_service(moved)] == ["service.other-program"]
    fine = Status("running", program="/b/ccendpoint", current_program="/b/ccendpoint", served=Served(all=True))
    [ok] = check_service(fine)
    assert ok.level == "ok" and "every provider" in ok.what


def test_unreadable_urls_do_not_crash_the_checks() -> None:
    broken = group("orbit")
    broken["models"][0]["url"] = "http://[::1/v1"
    for check in (check_keys, check_structure):
        assert check([broken])
    assert check_catalog([broken], fixture_catalog())
    assert check_proxies([broken], fixture_catalog(), lambda port: Probe("closed"))


def test_a_stopped_answer_is_not_an_error() -> None:
    from ccendpoint.doctor.log_checks import check_log

    records = [
        {
            "time": f"2026-11-25T10:00:0{i}Z",
            "provider": "kimi",
            "model": "kimi-k2.6",
            "status": 200,
            "outcome": "client_disconnected",
        }
        for i in range(5)
    ]
    assert [f.check for f in check_log(records)] == ["log.recent"]


def test_the_live_key_only_goes_to_the_exact_endpoint_or_our_proxy() -> None:
    from ccendpoint.doctor.live import Target, key_destination_problem

    orbit = fixture_provider("orbit")

    def target(url: str) -> Target:
        return Target(orbit, "orbit-pro", url, "Orbit")

    ours = lambda host, port: Probe("ccendpoint", {"provider": "orbit", "version": "1"})  # noqa: E731
    theirs = lambda host, port: Probe("other")  # noqa: E731
    assert key_destination_problem(target("https://api.orbit.test/v1/chat/completions"), theirs) is None
    assert key_destination_problem(target("https://api.orbit.test.cn/v1/chat/completions"), theirs) is None
    assert key_destination_problem(target("http://api.orbit.test/v1/chat/completions"), ours)  # not over plain http
    assert key_destination_problem(target("https://api.orbit.test:8443/v1/chat/completions"), ours)
    assert key_destination_problem(target("https://evil.example/v1/chat/completions"), ours)
    assert key_destination_problem(target("http://127.0.0.1:4300/v1/chat/completions"), ours) is None
    assert key_destination_problem(target("http://[::1]:4300/v1/chat/completions"), theirs)
    asked: list[str] = []
    key_destination_problem(target("http://[::1]:4300/v1"), lambda host, port: asked.append(host) or ours(host, port))
    assert asked == ["[::1]"]  # the address the key would go to is the one asked
