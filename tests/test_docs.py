"""The committed provider pages match the catalog, and the README keeps its two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from ccendpoint.docsgen import main as docsgen_main
from ccendpoint.docsgen import pages

ROOT = Path(__file__).resolve().parents[1]


def test_provider_pages_are_up_to_date() -> None:
    for name, text in pages().items():
        path = ROOT / "docs" / "providers" / name
        assert path.exists(), f"missing {path}; run: python -m ccendpoint.docsgen"
        assert path.read_text("utf-8") == text, f"{path} is out of date; run: python -m ccendpoint.docsgen"


def test_docsgen_check_detects_a_stale_page(tmp_path: Path) -> None:
    assert docsgen_main(["--out", str(tmp_path)]) == 0
    assert docsgen_main(["--out", str(tmp_path), "--check"]) == 0
    page = tmp_path / "kimi.md"
    page.write_text(page.read_text() + "edited by hand\n")
    assert docsgen_main(["--out", str(tmp_path), "--check"]) == 1


def test_readme_links_every_provider_page() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for name in pages():
        assert f"docs/providers/{name}" in readme, name


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    commands = re.findall(r"^(pip install .*)$", readme, flags=re.MULTILINE)
    assert len(commands) == 2, commands
    install, test = commands
    assert "ccendpoint" in install
    assert "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text("utf-8")
