"""The committed provider pages match the catalog, and the README's set-up commands work as written."""

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


def readme_setup_commands() -> list[str]:
    """The shell commands of the README's Set-up section, in order."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)]


def test_readme_installs_with_pipx_and_ci_runs_the_test_command() -> None:
    install, setup, test = readme_setup_commands()
    # a plain `pip install` fails on Debian's and Ubuntu's system Python (PEP 668)
    assert install == "pipx install ."
    assert setup.startswith("ccendpoint setup ")
    assert "python3 -m venv .venv" in test and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text("utf-8")


def test_the_module_index_names_every_module_by_its_first_line(tmp_path: Path) -> None:
    from ccendpoint.docsgen import architecture_doc_text, module_index

    package = tmp_path / "pkg"
    (package / "inner").mkdir(parents=True)
    (package / "one.py").write_text('"""Does one thing, with ``code`` and :class:`Thing`.\n\nMore."""\n')
    (package / "inner" / "two.py").write_text('"""Does another\nthing over two lines."""\n')
    (package / "inner" / "__init__.py").write_text("")
    assert module_index(package) == (
        "### top level\n\n- `one.py`: Does one thing, with `code` and `Thing`.\n\n"
        "### `inner/`\n\n- `inner/two.py`: Does another thing over two lines."
    )
    doc = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert architecture_doc_text(doc) == doc, "run: python -m ccendpoint.docsgen"
