"""``ccendpoint catalog update|status|reset``: bundles from a local server and folders, good and bad."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ccendpoint.catalog import installed, load_catalog
from ccendpoint.catalog.installed import ActiveCatalog, manifest_for
from ccendpoint.catalog.loader import bundled_sources
from ccendpoint.cli import app
from fake_catalog_servers import FakeServer, Route, fake_server

EXTRA = Path(__file__).parent / "fixtures" / "catalog" / "clockwork.yaml"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def bundle_files() -> dict[str, bytes]:
    """The bundled catalog plus one more provider: what a newer catalog could look like."""
    files = {source.label: source.data for source in bundled_sources()}
    files["clockwork.yaml"] = EXTRA.read_bytes()
    return files


def write_bundle(folder: Path, files: dict[str, bytes], version: str = "2099.1.1", date: str = "2099-01-01") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_bytes(manifest_for(version, date, files).to_bytes())
    return folder


def serve(server: FakeServer, folder: Path, prefix: str = "/catalog") -> str:
    for path in folder.iterdir():
        server.routes[f"{prefix}/{path.name}"] = Route(body=path.read_bytes())
    return f"{server.base}{prefix}/"


def active() -> dict[str, object]:
    code, out, err = cli("catalog", "status", "--json")
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def test_a_good_bundle_over_http_is_installed_used_and_reset(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", bundle_files())
    with fake_server() as server:
        code, out, err = cli("catalog", "update", "--from", serve(server, folder))
    assert code == 0, err
    assert "Installed catalog version 2099.1.1" in out
    state = active()
    assert (state["active"], state["version"], state["date"]) == ("installed", "2099.1.1", "2099-01-01")
    assert str(state["source"]).endswith("/catalog/manifest.json")
    # every command now reads the installed catalog: the new provider is known without --catalog
    code, out, _ = cli("list", "clockwork", "--json")
    assert code == 0 and [m["id"] for m in json.loads(out)] == ["cw-peaky", "cw-mystery"]
    assert "installed:clockwork.yaml" in load_catalog().sources
    code, out, _ = cli("catalog", "reset")
    assert code == 0 and "Removed the installed catalog" in out
    assert active()["active"] == "bundled"
    assert cli("list", "clockwork")[0] == 2
    assert not installed.root().exists()


def test_a_bundle_folder_or_manifest_path_works_too(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", bundle_files())
    assert cli("catalog", "update", "--from", str(folder))[0] == 0
    assert cli("catalog", "update", "--from", str(folder / "manifest.json"), "--json")[0] == 0
    assert active()["active"] == "installed"
    kept = [p for p in installed.root().iterdir() if p.is_dir()]
    assert len(kept) == 2  # the active one and the one before it


def _install_good_one(tmp_path: Path) -> None:
    assert cli("catalog", "update", "--from", str(write_bundle(tmp_path / "good", bundle_files())))[0] == 0
    assert active()["version"] == "2099.1.1"


def _unchanged(before: dict[str, object]) -> None:
    assert active() == before
    assert not any(p.name.startswith(".incoming-") for p in installed.root().iterdir())


def test_a_tampered_file_changes_nothing(tmp_path: Path) -> None:
    _install_good_one(tmp_path)
    before = active()
    folder = write_bundle(tmp_path / "t", bundle_files(), version="2099.2.1", date="2099-02-01")
    extra = folder / "clockwork.yaml"
    listed = extra.read_bytes()
    extra.write_bytes(listed.replace(b"input: 2.0", b"input: 0.1"))  # the same size, another price
    assert extra.read_bytes() != listed
    with fake_server() as server:
        code, _, err = cli("catalog", "update", "--from", serve(server, folder))
    assert code == 1
    text = " ".join(err.split())
    assert "clockwork.yaml does not match its SHA-256" in text and "Nothing was changed." in text
    _unchanged(before)


def test_a_schema_invalid_bundle_changes_nothing(tmp_path: Path) -> None:
    _install_good_one(tmp_path)
    before = active()
    files = bundle_files()
    doc = yaml.safe_load(files["clockwork.yaml"])
    doc["models"][0]["colour"] = "blue"
    files["clockwork.yaml"] = yaml.safe_dump(doc).encode()
    folder = write_bundle(tmp_path / "s", files, version="2099.3.1", date="2099-03-01")  # hashes are consistent
    with fake_server() as server:
        code, _, err = cli("catalog", "update", "--from", serve(server, folder))
    assert code == 1
    text = " ".join(err.split())
    assert "the bundle is not a valid catalog" in text and "unknown key 'colour'" in text
    _unchanged(before)


def test_an_interrupted_download_changes_nothing(tmp_path: Path) -> None:
    _install_good_one(tmp_path)
    before = active()
    folder = write_bundle(tmp_path / "i", bundle_files(), version="2099.4.1", date="2099-04-01")
    with fake_server() as server:
        url = serve(server, folder)
        route = server.routes["/catalog/clockwork.yaml"]
        route.cut_after = len(route.body) // 2
        code, _, err = cli("catalog", "update", "--from", url)
    assert code == 1
    assert "interrupted" in err or "cut short" in err
    _unchanged(before)


def test_a_missing_file_and_a_redirect_change_nothing(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "m", bundle_files())
    with fake_server() as server:
        url = serve(server, folder)
        del server.routes["/catalog/clockwork.yaml"]
        code, _, err = cli("catalog", "update", "--from", url)
        assert code == 1 and "clockwork.yaml answered HTTP 404" in err
        server.routes["/moved/manifest.json"] = Route(status=301, headers={"Location": "https://example.test/x"})
        code, _, err = cli("catalog", "update", "--from", f"{server.base}/moved/manifest.json")
        assert code == 1 and "redirects are not followed" in " ".join(err.split())
    assert active()["active"] == "bundled"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("http://example.test/catalog/", "plain http is only accepted for this machine"),
        ("ftp://example.test/catalog/", "only https URLs"),
    ],
)
def test_only_https_or_loopback(source: str, message: str) -> None:
    code, _, err = cli("catalog", "update", "--from", source)
    assert code == 2
    assert message in " ".join(err.split())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["files"].update({"../evil.yaml": m["files"]["clockwork.yaml"]}),
            "is not a plain catalog file name",
        ),
        (lambda m: m.update(format=2), "not a ccendpoint catalog manifest"),
        (lambda m: m.update(date="tomorrow"), "'date' must be written YYYY-MM-DD"),
        (lambda m: m["files"]["clockwork.yaml"].update(sha256="abc"), "'sha256' must be 64 lowercase hex digits"),
    ],
)
def test_a_bad_manifest_is_refused(tmp_path: Path, change: object, message: str) -> None:
    folder = write_bundle(tmp_path / "x", bundle_files())
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)  # type: ignore[operator]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = cli("catalog", "update", "--from", str(folder))
    assert code == 1
    assert message in " ".join(err.split())
    assert active()["active"] == "bundled"


def test_an_installed_catalog_older_than_the_release_is_not_used(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "old", bundle_files(), version="2020.1.1", date="2020-01-01")
    code, out, _ = cli("catalog", "update", "--from", str(folder))
    assert code == 0
    assert "older than the one this release bundles, so it is not used" in " ".join(out.split())
    assert active()["active"] == "bundled"
    assert cli("list", "clockwork")[0] == 2


def test_an_installed_file_changed_later_is_reported_with_the_fix(tmp_path: Path) -> None:
    _install_good_one(tmp_path)
    folder = Path(str(active()["folder"]))
    (folder / "clockwork.yaml").write_text("id: clockwork\n")
    code, _, err = cli("list")
    assert code == 1
    text = " ".join(err.split())
    assert "the installed catalog was changed: clockwork.yaml" in text
    assert "catalog reset" in text
    assert cli("catalog", "reset")[0] == 0 and cli("list")[0] == 0


def test_list_and_show_warn_when_the_catalog_is_older_than_60_days(monkeypatch: pytest.MonkeyPatch) -> None:
    old = (dt.date.today() - dt.timedelta(days=61)).isoformat()
    monkeypatch.setattr(installed, "bundled_info", lambda: ("old", old))
    for command in (("list",), ("show", "kimi"), ("list", "--json")):
        code, out, err = cli(*command)
        assert code == 0
        assert "61 days ago" in " ".join(err.split()), command
        assert "days ago" not in out
    fresh = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    monkeypatch.setattr(installed, "bundled_info", lambda: ("fresh", fresh))
    assert "days ago" not in cli("list")[2]
    assert active()["stale"] is False


def test_stale_warning_counts_days_from_the_catalog_date() -> None:
    info = ActiveCatalog("bundled", "v", "2026-09-01", "v", "2026-09-01")
    assert info.stale_warning(dt.date(2026, 10, 31)) is None  # 60 days
    warning = info.stale_warning(dt.date(2026, 11, 1))
    assert warning is not None and "61 days ago" in warning


def test_the_bundled_catalog_date_is_not_older_than_its_facts() -> None:
    _, date = installed.bundled_info()
    catalog = load_catalog(use_overlays=False)
    dates = [m.facts_date for p in catalog.providers for m in p.models]
    dates += [m.pricing.date for p in catalog.providers for m in p.models if m.pricing]
    assert max(dates) <= date, "bump src/ccendpoint/catalog/bundled.json when the catalog's facts change"


def test_bundlegen_writes_a_bundle_that_installs(tmp_path: Path) -> None:
    from ccendpoint import bundlegen

    source = tmp_path / "src"
    source.mkdir()
    for name, data in bundle_files().items():
        (source / name).write_bytes(data)
    assert (
        bundlegen.main([str(tmp_path / "out"), "--from", str(source), "--version", "2099.9.9", "--date", "2099-09-09"])
        == 0
    )
    assert cli("catalog", "update", "--from", str(tmp_path / "out"))[0] == 0
    assert active()["version"] == "2099.9.9"
    (source / "clockwork.yaml").write_text("id: clockwork\n")
    assert bundlegen.main([str(tmp_path / "bad"), "--from", str(source)]) == 1
    assert not (tmp_path / "bad").exists()
