"""``ccendpoint catalog drift`` against strict local fake ``/models`` servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog_helpers import ORBIT_FILE, fixture_catalog
from ccendpoint.catalog import load_catalog
from ccendpoint.catalog.drift import compare, models_url
from ccendpoint.cli import app
from fake_catalog_servers import FakeServer, Route, closed_port, fake_server

FIXTURE = Path(__file__).parent / "fixtures" / "catalog" / "clockwork.yaml"
KEY = "sk-clockwork-4f1d2e8a9b7c6d5e4f3a2b1c"
CATALOG_IDS = ["cw-peaky", "cw-mystery"]  # the current models of the fixture
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for provider in fixture_catalog().providers:
        for name in provider.key_env:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTHER_KEY", raising=False)


def drift(*args: str, env: dict[str, str] | None = None, catalog: Path = FIXTURE) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--catalog", str(catalog), "catalog", "drift", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def at_fake(server: FakeServer, tmp_path: Path) -> Path:
    """The fixture provider with its catalog endpoint on the fake (as the real catalog would name it)."""
    doc = yaml.safe_load(FIXTURE.read_text("utf-8"))
    doc["endpoints"]["global"]["url"] = f"{server.base}/v1/chat/completions"
    path = tmp_path / "clockwork.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def test_models_url_sits_beside_the_chat_path() -> None:
    assert models_url("https://api.x.test/v1/chat/completions") == "https://api.x.test/v1/models"
    assert models_url("https://api.x.test/v1/") == "https://api.x.test/v1/models"
    assert models_url("https://api.deepseek.com/chat/completions") == "https://api.deepseek.com/models"
    assert models_url("http://127.0.0.1:9/v1/models") == "http://127.0.0.1:9/v1/models"


def test_compare_sorts_the_three_lists_and_ignores_case_and_excluded_ids() -> None:
    provider = load_catalog([FIXTURE]).provider("clockwork")
    assert provider is not None
    result = compare(provider, ["CW-PEAKY", "cw-new", "cw-old", "cw-text-embedding", "cw-a"])
    assert result.unknown == ("cw-a", "cw-new")  # *-embedding is excluded by the catalog's discovery rules
    assert result.gone == ("cw-mystery",)
    assert result.deprecated_but_served == ("cw-old",)
    assert result.drifted and result.served == 5
    assert not compare(provider, CATALOG_IDS).drifted


def test_nothing_drifted_is_exit_0_and_the_key_went_only_to_the_catalog_endpoint(tmp_path: Path) -> None:
    with fake_server() as server:
        server.models([*CATALOG_IDS, "cw-text-embedding"], KEY)
        code, out, _ = drift("clockwork", env={"CLOCKWORK_API_KEY": KEY}, catalog=at_fake(server, tmp_path))
    assert code == 0, out
    assert "the catalog matches" in out
    assert [(s.path, s.headers.get("authorization")) for s in server.seen] == [("/v1/models", f"Bearer {KEY}")]
    assert KEY not in out


@pytest.mark.parametrize(
    ("served", "listed"),
    [
        ([*CATALOG_IDS, "cw-brand-new"], "served, unknown to the catalog: cw-brand-new"),
        (["cw-peaky"], "in the catalog, no longer served: cw-mystery"),
        ([*CATALOG_IDS, "cw-old"], "deprecated in the catalog, still served: cw-old"),
    ],
)
def test_each_kind_of_drift_is_listed_and_is_exit_1(served: list[str], listed: str) -> None:
    with fake_server() as server:
        server.models(served, KEY)
        code, out, _ = drift("clockwork", "--base-url", f"{server.base}/v1", env={"CLOCKWORK_API_KEY": KEY})
    assert code == 1, out
    assert listed in " ".join(out.split())


def test_json_has_the_three_lists_per_provider() -> None:
    with fake_server() as server:
        server.models(["cw-peaky", "cw-old", "cw-next"], KEY)
        code, out, _ = drift("clockwork", "--json", "--base-url", server.base + "/v1", env={"CLOCKWORK_API_KEY": KEY})
    assert code == 1
    data = json.loads(out)
    assert list(data) == ["clockwork"]
    entry = data["clockwork"]
    assert (entry["unknown"], entry["gone"], entry["deprecated_but_served"]) == (
        ["cw-next"],
        ["cw-mystery"],
        ["cw-old"],
    )


def test_a_refused_key_is_exit_2_says_why_and_never_shows_the_key() -> None:
    with fake_server() as server:
        server.models(CATALOG_IDS, "sk-the-right-one-1234567890abcdef")
        code, out, err = drift("clockwork", "--base-url", server.base + "/v1", env={"CLOCKWORK_API_KEY": KEY})
    assert code == 2
    text = " ".join(out.split())
    assert "refused the key: HTTP 401 (authentication): Invalid Authentication" in text
    assert "Check that the key belongs to this provider" in text
    assert KEY not in out + err


def test_an_unreachable_provider_is_exit_2_with_the_reason() -> None:
    port = closed_port()
    code, out, _ = drift(
        "clockwork", "--json", "--base-url", f"http://127.0.0.1:{port}/v1", env={"CLOCKWORK_API_KEY": KEY}
    )
    assert code == 2
    entry = json.loads(out)["clockwork"]
    assert entry["error_kind"] == "network" and "cannot connect to 127.0.0.1" in entry["error"]


def test_a_missing_key_is_exit_2_and_names_the_variables() -> None:
    code, out, _ = drift("clockwork", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2
    assert "no key: set CLOCKWORK_API_KEY" in out
    code, out, _ = drift("clockwork", "--key-env", "OTHER_KEY")
    assert code == 2 and "--key-env OTHER_KEY names a variable that is not set" in out


def test_key_env_picks_the_variable() -> None:
    with fake_server() as server:
        server.models(CATALOG_IDS, KEY, path="/models")
        code, out, _ = drift("clockwork", "--key-env", "OTHER_KEY", "--base-url", server.base, env={"OTHER_KEY": KEY})
    assert code == 0, out
    assert server.seen[0].path == "/models"


def test_a_redirect_is_not_followed_with_the_key() -> None:
    with fake_server() as server, fake_server() as elsewhere:
        elsewhere.models(CATALOG_IDS, KEY)
        server.routes["/v1/models"] = Route(status=302, headers={"Location": f"{elsewhere.base}/v1/models"})
        code, out, _ = drift("clockwork", "--base-url", server.base + "/v1", env={"CLOCKWORK_API_KEY": KEY})
    assert code == 2
    assert "redirected to 127.0.0.1; the key is not sent on" in " ".join(out.split())
    assert elsewhere.seen == []


def test_every_provider_with_a_key_is_checked_and_the_others_are_skipped(tmp_path: Path) -> None:
    with fake_server() as server:
        server.models([*CATALOG_IDS, "cw-next"], KEY)
        overlays = ["--catalog", str(at_fake(server, tmp_path)), "--catalog", str(ORBIT_FILE)]
        result = runner.invoke(app, [*overlays, "catalog", "drift"], env={"CLOCKWORK_API_KEY": KEY})
    assert result.exit_code == 1, result.stdout
    text = " ".join(result.stdout.split())
    assert "clockwork: drift" in text
    assert "orbit: skipped, no key: set ORBIT_API_KEY or ORBITAL_API_KEY" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--base-url", "http://127.0.0.1:9/v1"), "--base-url needs a PROVIDER"),
        (("clockwork", "--base-url", "ftp://example.test"), "is not an http(s) URL"),
        (("nowhere",), "Unknown provider 'nowhere'"),
        (("clockwork", "--region", "mars"), "Unknown region 'mars'"),
    ],
)
def test_usage_errors_are_exit_2(args: tuple[str, ...], message: str) -> None:
    code, _, err = drift(*args, env={"CLOCKWORK_API_KEY": KEY})
    assert code == 2
    assert message in err


def test_doctor_live_includes_the_drift_check_at_the_catalog_endpoint(tmp_path: Path) -> None:
    with fake_server() as server:
        server.models(["cw-peaky", "cw-next"], KEY)
        overlay = at_fake(server, tmp_path)
        added = runner.invoke(app, ["--catalog", str(overlay), "add", "clockwork"])
        assert added.exit_code == 0, added.output
        result = runner.invoke(
            app, ["--catalog", str(overlay), "doctor", "--live", "--json"], env={"CLOCKWORK_API_KEY": KEY}
        )
    found = [f for f in json.loads(result.stdout)["findings"] if f["check"].startswith("catalog.drift")]
    assert [f["check"] for f in found] == ["catalog.drift"]
    assert "served but unknown to the catalog: cw-next" in found[0]["what"]
    assert "in the catalog but no longer served: cw-mystery" in found[0]["what"]
    assert [s.path for s in server.seen].count("/v1/models") == 1  # once per provider, not per model
    assert KEY not in result.stdout


def test_doctor_drift_findings_for_a_match_a_failure_and_no_key() -> None:
    from ccendpoint.catalog.drift import DriftFailure, Served
    from ccendpoint.doctor.drift_checks import check_drift
    from ccendpoint.vscode.blocks import GroupOptions, render_group

    catalog = load_catalog([FIXTURE])
    provider = catalog.provider("clockwork")
    assert provider is not None
    document = [render_group(provider, GroupOptions())]
    asked: list[str] = []

    def serves(url: str, key: str) -> Served:
        asked.append(url)
        return Served(ids=tuple(CATALOG_IDS), url=url)

    def refuses(url: str, key: str) -> Served:
        raise DriftFailure("auth", "api.clockwork.test refused the key: HTTP 401", "Check the key.")

    env = {"CLOCKWORK_API_KEY": KEY}
    (match,) = check_drift(document, catalog, environ=env, fetch=serves)
    assert (match.level, match.check) == ("ok", "catalog.drift")
    assert asked == ["https://api.clockwork.test/v1/models"]
    (failed,) = check_drift(document, catalog, environ=env, fetch=refuses)
    assert (failed.level, failed.check, failed.fix) == ("warning", "catalog.drift-unchecked", "Check the key.")
    assert check_drift(document, catalog, environ={}, fetch=serves) == []


def test_add_discover_writes_unknown_served_models_with_conservative_settings(
    tmp_path: Path, isolated_home: Path
) -> None:
    with fake_server() as server:
        server.models([*CATALOG_IDS, "cw-next", "cw-text-embedding"], KEY)
        overlay = at_fake(server, tmp_path)
        result = runner.invoke(
            app, ["--catalog", str(overlay), "add", "clockwork", "--discover"], env={"CLOCKWORK_API_KEY": KEY}
        )
        assert result.exit_code == 0, result.output
        assert "adding 1 served model(s) the catalog does not know" in " ".join(result.stderr.split())
        missing = runner.invoke(app, ["--catalog", str(overlay), "add", "clockwork", "--discover", "--dry-run"])
    assert missing.exit_code == 2 and "Set CLOCKWORK_API_KEY" in missing.stderr
    config = isolated_home / ".config" / "Code" / "User" / "chatLanguageModels.json"
    (group,) = json.loads(config.read_text())
    entries = {m["id"]: m for m in group["models"]}
    assert list(entries) == ["cw-peaky", "cw-mystery", "cw-next"]  # the excluded embedding model is left out
    new = entries["cw-next"]
    assert (new["name"], new["vision"], new["toolCalling"]) == ("cw-next (discovered)", False, False)
    assert (new["maxInputTokens"], new["maxOutputTokens"]) == (128000, 16000)
