"""``ccendpoint doctor`` end to end: a temporary home, real files, real ports, fake providers."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, fixture_catalog
from ccendpoint import dirs
from ccendpoint.catalog import load_catalog
from ccendpoint.cli import app
from ccendpoint.doctor.machine import gather
from ccendpoint.vscode.paths import FileRequest
from fake_upstreams import FakeUpstream, free_port

SECRET = "sk-proj-Zq8vN3kL0pW7xY2mR5tB9cD4fG6hJ1aS"
runner = CliRunner()


def config_file(home: Path) -> Path:
    return home / ".config" / "Code" / "User" / "chatLanguageModels.json"


def doctor(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["doctor", *args])
    return result.exit_code, result.stdout, result.stderr


def findings(*args: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, _ = doctor("--json", *args)
    return code, json.loads(out)["findings"]


def checks(items: list[dict[str, Any]], level: str | None = None) -> set[str]:
    return {f["check"] for f in items if level is None or f["level"] == level}


def test_fresh_machine_says_there_is_no_vscode_and_no_file() -> None:
    code, items = findings()
    assert code == 0
    assert {"vscode.missing", "file.missing"} <= checks(items, "warning")
    missing = next(f for f in items if f["check"] == "file.missing")
    assert "ccendpoint add" in missing["fix"]


def test_after_add_the_missing_proxy_is_an_error(isolated_home: Path) -> None:
    port = free_port()
    assert runner.invoke(app, ["add", "kimi", "--port", str(port)]).exit_code == 0
    code, out, _ = doctor()
    assert code == 1
    assert f"Nothing listens on 127.0.0.1:{port}" in out
    assert "ccendpoint proxy kimi" in out
    _, items = findings()
    assert "vscode.installations" in checks(items, "ok")


class _Health(BaseHTTPRequestHandler):
    provider = "kimi"

    def do_GET(self) -> None:
        body = json.dumps({"ok": True, "provider": self.provider, "version": "0", "upstream": "api.moonshot.ai"})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_a_running_proxy_is_recognised(health_server: int) -> None:
    assert runner.invoke(app, ["add", "kimi", "--port", str(health_server)]).exit_code == 0
    _, items = findings()
    running = [f for f in items if f["check"] == "proxy.running"]
    assert running and "kimi" in running[0]["what"]
    assert "proxy.not-running" not in checks(items)


def test_unparseable_file_reports_line_and_column(isolated_home: Path) -> None:
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text('[\n  {"name": "Kimi",\n   "vendor": }\n]\n')
    code, out, _ = doctor()
    assert code == 1
    assert ":3:" in out and "chatLanguageModels.json" in out
    assert path.read_text().startswith("[\n  {")  # doctor never writes


def test_plaintext_keys_are_masked_everywhere(isolated_home: Path, tmp_path: Path) -> None:
    path = config_file(isolated_home)
    path.parent.mkdir(parents=True)
    group = {
        "name": "GLM",
        "vendor": "customendpoint",
        "apiKey": SECRET,
        "models": [
            {
                "id": "glm-5.1",
                "name": "GLM 5.1",
                "url": "https://api.z.ai/api/paas/v4/chat/completions",
                "toolCalling": True,
                "vision": False,
                "maxInputTokens": 73728,
                "maxOutputTokens": 131072,
                "requestHeaders": {"Authorization": f"Bearer {SECRET}", "X-Trace": "on"},
            }
        ],
    }
    other = {"name": "Mine", "vendor": "customendpoint", "apiKey": "${input:chat.lm.secret.-60b744f3}", "models": []}
    path.write_text(json.dumps([group, other], indent="\t"))
    log = dirs.log_dir() / "glm-proxy.ndjson"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"time": "2026-11-25T10:00:00Z", "provider": "glm", "model": "glm-5.1", "x": SECRET}))
    report_md, report_json = tmp_path / "r.md", tmp_path / "r.json"
    code, out, err = doctor("--report", str(report_md))
    assert code == 1
    assert "keys.plaintext" not in out  # human output shows words, not ids
    assert "apiKey holds a literal value (sk-…(40 chars))" in out
    _, json_out, _ = doctor("--json", "--report", str(report_json))
    for text in (out, err, json_out, report_md.read_text(), report_json.read_text()):
        assert SECRET not in text
        assert SECRET[8:30] not in text
        assert "-60b744f3" not in text
    report = json.loads(report_json.read_text())
    assert '"apiKey": "<redacted>"' in report["config"]["text"]
    assert '"X-Trace": "on"' in report["config"]["text"]  # harmless values stay readable
    assert report["log_tail"] and "glm-5.1" in report["log_tail"][0]
    assert {"keys.plaintext", "keys.header-plaintext"} <= {f["check"] for f in report["findings"]}


def test_unknown_profile_lists_the_known_ones(isolated_home: Path) -> None:
    storage = isolated_home / ".config" / "Code" / "User" / "globalStorage" / "storage.json"
    storage.parent.mkdir(parents=True)
    storage.write_text(json.dumps({"userDataProfiles": [{"name": "Work", "location": "abc123"}]}))
    code, items = findings("--profile", "Play")
    assert code == 1
    locate = next(f for f in items if f["check"] == "vscode.locate")
    assert "Play" in locate["what"] and "Work" in locate["fix"]


def test_settings_and_version_checks(isolated_home: Path) -> None:
    assert runner.invoke(app, [*CATALOG_ARGS, "add", "clockwork"]).exit_code == 0
    settings = isolated_home / ".config" / "Code" / "User" / "settings.json"
    settings.write_text('{\n  // mine\n  "chat.utilitySmallModel": "customendpoint/Clockwork/cw-peaky",\n}\n')
    catalog = fixture_catalog()
    new = gather(FileRequest(), catalog, version_runner=lambda argv: "1.133.0\nabcdef\nx64\n")
    assert "settings.agent-host" in {f.check for f in new.findings}
    assert new.version == "1.133.0"
    unknown = gather(FileRequest(), catalog, version_runner=lambda argv: None)
    assert any("version unknown" in f.what for f in unknown.findings)
    # VS Code 1.139 reads "<vendor>/<model id>" and wants both settings: the group name matches nothing
    checks = {f.check for f in unknown.findings}
    assert {"settings.utility-model", "settings.utility-reference"} <= checks
    both = '"chat.utilityModel": "customendpoint/cw-peaky", "chat.utilitySmallModel": "customendpoint/cw-peaky"'
    settings.write_text("{" + both + "}")
    fixed = {f.check for f in gather(FileRequest(), catalog, version_runner=lambda argv: None).findings}
    assert not {"settings.utility-model", "settings.utility-reference"} & fixed


def test_log_errors_are_summarised() -> None:
    log = dirs.log_dir() / "kimi-proxy.ndjson"
    log.parent.mkdir(parents=True)
    lines = [
        {
            "time": f"2026-11-25T10:00:0{i}Z",
            "provider": "kimi",
            "model": "kimi-k2.6",
            "status": 400,
            "upstream_error": "invalid temperature: only 1 is allowed for this model",
        }
        for i in range(3)
    ] + [{"time": "2026-11-25T10:00:09Z", "provider": "kimi", "model": "kimi-k2.6", "status": 200}]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    _, items = findings()
    errors = next(f for f in items if f["check"] == "log.errors")
    assert "3 failed" in errors["what"] and "invalid temperature" in errors["what"]


# -- live -----------------------------------------------------------------------------------------


class _ThreadedUpstream:
    """A fake provider running on its own event loop in a thread (doctor --live runs its own loop)."""

    def __init__(self, provider: str) -> None:
        self.fake = FakeUpstream(provider)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(5)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(None, None, None), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _point_group_at(home: Path, url: str) -> None:
    path = config_file(home)
    doc = json.loads(path.read_text())
    for model in doc[0]["models"]:
        model["url"] = url
    path.write_text(json.dumps(doc, indent="\t"))


def test_live_tells_contract_errors_from_auth_errors(isolated_home: Path) -> None:
    from ccendpoint.doctor.live import run_live

    assert runner.invoke(app, ["add", "kimi", "--models", "kimi-k2.6"]).exit_code == 0
    with _ThreadedUpstream("kimi") as upstream:
        _point_group_at(isolated_home, upstream.url)  # as if VS Code talked to Moonshot without the proxy
        document = json.loads(config_file(isolated_home).read_text())
        # the fake stands in for Moonshot's own endpoint, which the key may be sent to
        found = run_live(document, load_catalog(), environ={"KIMI_API_KEY": SECRET}, destination_problem=lambda t: None)
        assert [f.check for f in found] == ["live.fail"]
        text = " ".join(found[0].what.split())
        # VS Code sends Kimi's sampling values (modelOptions); the tool follow-up, without reasoning, fails
        assert "chat: pass" in text
        assert "HTTP 400 (contract): thinking is enabled but reasoning_content is missing" in text
        assert "contract" in found[0].why and "--mode proxy" not in found[0].fix  # loopback: no direct-mode hint
        assert SECRET not in repr(found)
        assert upstream.received[0].headers["Authorization"] == f"Bearer {SECRET}"
        assert upstream.received[0].body["temperature"] == 1  # the body VS Code would send


def test_live_never_sends_the_key_to_an_unknown_host(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["add", "kimi", "--models", "kimi-k2.6"]).exit_code == 0
    with _ThreadedUpstream("kimi") as stranger:
        _point_group_at(isolated_home, stranger.url)  # a local port that is not ccendpoint's proxy
        monkeypatch.setenv("KIMI_API_KEY", SECRET)
        _, out, err = doctor("--live", "--json")
        live = [f for f in json.loads(out)["findings"] if f["check"].startswith("live.")]
        assert [f["check"] for f in live] == ["live.untrusted-url"]
        assert "not ccendpoint's proxy for kimi" in live[0]["what"]
        assert stranger.received == []  # not a single request, so the key never left
        assert SECRET not in out + err


def test_live_without_a_key_says_which_variable_to_set() -> None:
    assert runner.invoke(app, ["add", "kimi", "--models", "kimi-k2.6"]).exit_code == 0
    _, items = findings("--live")
    skipped = next(f for f in items if f["check"] == "live.no-key")
    assert "KIMI_API_KEY" in skipped["fix"]


def test_live_passes_through_the_proxy(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxy_helpers import running_proxy

    assert runner.invoke(app, ["add", "kimi", "--models", "kimi-k2.6"]).exit_code == 0
    with _ThreadedUpstream("kimi") as upstream:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        proxy_cm = running_proxy("kimi", upstream.url)
        proxy = asyncio.run_coroutine_threadsafe(proxy_cm.__aenter__(), loop).result(5)
        try:
            _point_group_at(isolated_home, proxy.url)
            monkeypatch.setenv("KIMI_API_KEY", SECRET)
            _, out, _ = doctor("--live", "--json")
            live = [f for f in json.loads(out)["findings"] if f["check"].startswith("live.")]
            assert [f["level"] for f in live] == ["ok"], live
            assert "chat: pass" in live[0]["what"] and "stream: pass" in live[0]["what"]
            assert "tools: pass" in live[0]["what"]
        finally:
            asyncio.run_coroutine_threadsafe(proxy_cm.__aexit__(None, None, None), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)


def test_a_broken_profile_list_in_another_edition_does_not_stop_doctor(isolated_home: Path) -> None:
    assert runner.invoke(app, ["add", "glm"]).exit_code == 0
    storage = isolated_home / ".config" / "Code - Insiders" / "User" / "globalStorage" / "storage.json"
    storage.parent.mkdir(parents=True)
    storage.write_text("{broken")
    _, items = findings()
    assert "file.parse" in checks(items, "ok")  # the stable file was still checked
    assert "vscode.profiles" in checks(items, "warning")


def test_report_masks_custom_credential_names(isolated_home: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, [*CATALOG_ARGS, "add", "orbit", "--models", "orbit-flash"]).exit_code == 0
    path = config_file(isolated_home)
    doc = json.loads(path.read_text())
    doc[0]["models"][0]["requestHeaders"] = {"X-DashScope-Key": "letters-only-key", "x-access-key": SECRET}
    doc[0]["api_key"] = "nvapi-" + SECRET[8:]
    path.write_text(json.dumps(doc, indent="\t"))
    report = tmp_path / "r.json"
    runner.invoke(app, [*CATALOG_ARGS, "doctor", "--report", str(report)])
    text = report.read_text()
    for secret in ("letters-only-key", SECRET, SECRET[8:]):
        assert secret not in text
    assert "orbit-flash" in text
