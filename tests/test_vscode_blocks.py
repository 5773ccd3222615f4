"""What ``add`` renders from the catalog: the options it accepts, and ``show`` for a provider without a port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Provider
from ccendpoint.cli import app
from ccendpoint.errors import UsageError
from ccendpoint.vscode.blocks import MANAGED_KEYS, GroupOptions, Mode, render_group, resolve_mode
from vscode_helpers import PROVIDER_FILE, acme, acme_group

runner = CliRunner()


@pytest.mark.parametrize("port", [0, -5, 65536, 99999])
def test_port_outside_the_tcp_range_is_refused(port: int) -> None:
    with pytest.raises(UsageError) as caught:
        acme_group(port=port)
    assert caught.value.hint is not None and "1 to 65535" in caught.value.hint
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("port", [1, 4100, 65535])
def test_port_is_used_as_given(port: int) -> None:
    urls = {m["url"] for m in acme_group(port=port)["models"]}
    assert urls == {f"http://127.0.0.1:{port}/v1/chat/completions"}


@pytest.mark.parametrize("name", ["", " ", "\t"])
def test_blank_group_name_is_refused(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        acme_group(group_name=name)
    assert "--group" in caught.value.message and caught.value.hint


def test_unknown_region_is_refused_in_proxy_mode_too() -> None:
    for mode in (None, "proxy"):
        with pytest.raises(UsageError) as caught:
            acme_group(mode=mode, region="bogus")
        assert caught.value.hint == "Known regions: global, cn."


def test_known_region_in_proxy_mode_keeps_the_proxy_url() -> None:
    assert acme_group(region="cn") == acme_group()


def test_rendered_entries_hold_only_managed_fields() -> None:
    """``add`` carries over every other field of an entry it replaces, so it must write no other field."""
    catalog = load_catalog([PROVIDER_FILE], environ={}, use_overlays=False)  # the bundled catalog and acme
    modes: tuple[Mode, ...] = ("proxy", "direct")
    assert len(catalog.providers) > 1
    for provider in catalog.providers:
        for mode in modes:
            if mode == "proxy" and provider.proxy_port is None:
                continue
            group = render_group(provider, GroupOptions(mode=mode, force=True, include_deprecated=True))
            for model in group["models"]:
                assert set(model) <= MANAGED_KEYS, (provider.id, mode, set(model) - MANAGED_KEYS)


# --- a provider that needs the proxy but has no port in the catalog -------------------------------


@pytest.fixture
def portless(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    text = PROVIDER_FILE.read_text("utf-8")
    assert "  port: 4100\n" in text
    path.write_text(text.replace("  port: 4100\n", ""), "utf-8")
    return path


def _portless_provider(path: Path) -> Provider:
    provider = load_catalog([path], environ={}).provider("acme")
    assert provider is not None and provider.proxy_port is None and provider.proxy_mode == "required"
    return provider


def test_portless_provider_asks_for_a_port(portless: Path) -> None:
    provider = _portless_provider(portless)
    with pytest.raises(UsageError) as caught:
        resolve_mode(provider, GroupOptions())
    assert caught.value.hint is not None and "--port PORT" in caught.value.hint
    assert resolve_mode(provider, GroupOptions(port=4300)) == "proxy"
    assert resolve_mode(provider, GroupOptions(mode="direct", force=True)) == "direct"


def test_show_renders_a_portless_provider_with_a_note(portless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCENDPOINT_CATALOG", raising=False)
    result = runner.invoke(app, ["--catalog", str(portless), "show", "acme"])
    assert result.exit_code == 0, result.stderr
    assert "Pass --port, or use --mode direct" not in result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "no proxy port, so this is the direct-mode group" in text
    assert "`ccendpoint add acme --port PORT` writes the proxy group" in text
    assert "add needs `--port PORT`: the catalog gives the proxy no port." in text
    assert "ccendpoint add acme --port PORT\nccendpoint proxy acme --port PORT\n" in result.stdout
    group = json.loads(result.stdout[result.stdout.rindex("\n{") :])
    assert group["models"][0]["url"] == acme().endpoint(None).url

    result = runner.invoke(app, ["--catalog", str(portless), "show", "acme", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["vscode_mode"] == "direct" and "no proxy port" in data["vscode_note"]
