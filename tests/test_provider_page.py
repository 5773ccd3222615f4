"""A provider's page (catalog.page) from the fixture catalog, and its two renderings: Markdown and the terminal."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

import pytest
from rich.console import Console

from catalog_helpers import fixture_provider
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.commands.page_view import print_page
from ccendpoint.docsgen import markdown
from ccendpoint.provider_page import Bullets, CodeBlock, Page, Paragraph, Section, Table, build_page, plain, shown_group
from ccendpoint.vscode.blocks import GroupOptions, render_group


def page_of(provider: Provider, *model_ids: str) -> Page:
    chosen = [m for m in provider.models if m.id in model_ids]
    return build_page(provider, shown_group(provider, list(model_ids)), chosen)


def section(page: Page, heading: str) -> Section:
    return next(s for s in page.sections if plain(s.heading) == heading)


B = TypeVar("B", Paragraph, Bullets, Table, CodeBlock)


def blocks_of(page: Page, heading: str, kind: type[B]) -> list[B]:
    return [b for b in section(page, heading).blocks if isinstance(b, kind)]


def portless() -> Provider:
    """Orbit as if its catalog file gave the proxy no port."""
    return replace(fixture_provider("orbit"), proxy_port=None)


def run_facts(page: Page) -> list[str]:
    """The Proxy section's own bullets: mode, port, how to start it, its variables."""
    return [plain(item) for b in blocks_of(page, "Proxy", Bullets) if not b.lead for item in b.items]


def model_facts(page: Page, model: Model) -> list[str]:
    """The bullets listed under ``model`` in the Models section."""
    lists = [b for b in blocks_of(page, "Models", Bullets) if plain(b.lead) == f"{model.id}:"]
    assert len(lists) == 1, model.id
    return [plain(item) for item in lists[0].items]


def proxy_models(page: Page) -> list[str]:
    """The model ids whose proxy rules the Proxy section spells out."""
    leads = [plain(b.lead) for b in blocks_of(page, "Proxy", Bullets) if b.lead]
    found = [re.fullmatch(r"What the proxy does for (\S+) \(rule set \S+\):", lead) for lead in leads]
    assert all(found), leads
    return [match.group(1) for match in found if match]


def test_every_section_is_there_in_order() -> None:
    headings = [plain(s.heading) for s in page_of(fixture_provider("orbit")).sections]
    assert headings == ["", "Models", "Endpoints", "API key", "Proxy", "Troubleshooting", "What add writes"]
    # clockwork has no troubleshooting: the section is left out, not left empty
    headings = [plain(s.heading) for s in page_of(fixture_provider("clockwork")).sections]
    assert headings == ["", "Models", "Endpoints", "API key", "Proxy", "What add writes"]


def test_models_table_has_a_row_per_model_with_its_facts() -> None:
    orbit = fixture_provider("orbit")
    (table,) = blocks_of(page_of(orbit), "Models", Table)
    rows = {plain(row.cells[0]): [plain(c) for c in row.cells] for row in table.rows}
    assert list(rows) == [m.id for m in orbit.models]
    assert rows["orbit-pro"][2:] == ["1M", "128K", "yes", "yes", "always", "$3.00 / $15.00"]
    assert rows["orbit-lite"][2:] == ["—", "—", "no", "yes", "none", "—"]  # unknown stays unknown
    assert rows["orbit-1"][1] == "Orbit 1 (deprecated → orbit-pro)"
    assert [row.muted for row in table.rows] == [m.deprecated for m in orbit.models]


def test_a_models_notes_unknown_price_and_unknown_limits_appear_under_it() -> None:
    orbit = fixture_provider("orbit")
    page = page_of(orbit)
    lite = model_facts(page, orbit.models[2])
    assert "Answers in English only." in lite
    assert any(line.startswith("price unknown") for line in lite)
    assert "limits not published; add writes VS Code's defaults (maxInputTokens=128000, maxOutputTokens=16000)" in lite
    pro = model_facts(page, orbit.models[0])
    assert "cached input $0.30 per 1M; prices in USD as of 2026-11-02" in pro
    assert not any("limits not published" in line or "price unknown" in line for line in pro)


def test_unknown_limits_are_told_for_the_models_add_writes() -> None:
    orbit = fixture_provider("orbit")
    retired = orbit.model("orbit-1")
    assert retired is not None and retired.deprecated and retired.context is None
    # add leaves a retired model out, so its made-up limits are not news ...
    assert not any("limits not published" in line for line in model_facts(page_of(orbit), retired))
    # ... unless it is asked for, and then add writes VS Code's defaults for it
    asked = model_facts(page_of(orbit, "orbit-1"), retired)
    assert any("limits not published" in line for line in asked)


def test_the_proxy_section_leaves_deprecated_models_out_unless_asked_for() -> None:
    orbit = fixture_provider("orbit")
    assert proxy_models(page_of(orbit)) == [m.id for m in orbit.current_models()]
    assert proxy_models(page_of(orbit, "orbit-1")) == ["orbit-1"]
    clockwork = fixture_provider("clockwork")
    assert proxy_models(page_of(clockwork)) == ["cw-peaky", "cw-mystery"]


def test_the_proxy_section_says_how_to_run_it() -> None:
    assert run_facts(page_of(fixture_provider("orbit"))) == [
        "Mode: required; add writes proxy mode by default.",
        "Port: 4300; URL: http://127.0.0.1:4300/v1/chat/completions",
        "Start: ccendpoint proxy orbit, or at every login: ccendpoint service install orbit",
        "Environment: ORBIT_PROXY_PORT, ORBIT_UPSTREAM_URL, ORBIT_PROXY_LOG",
    ]


def test_one_model_page_keeps_to_that_model() -> None:
    orbit = fixture_provider("orbit")
    page = page_of(orbit, "orbit-flash")
    (table,) = blocks_of(page, "Models", Table)
    assert [plain(row.cells[0]) for row in table.rows] == ["orbit-flash"]
    commands = blocks_of(page, "", CodeBlock)[0].text.splitlines()
    assert commands == ["ccendpoint add orbit --models orbit-flash", "ccendpoint proxy orbit"]
    group = json.loads(blocks_of(page, "What add writes", CodeBlock)[0].text)
    assert group == render_group(orbit, GroupOptions(model_ids=["orbit-flash"]))


def test_the_group_is_what_add_writes_with_vscodes_tabs() -> None:
    clockwork = fixture_provider("clockwork")
    shown = shown_group(clockwork)
    assert shown.group == render_group(clockwork, GroupOptions()) and shown.mode == "direct" and shown.note is None
    (code,) = blocks_of(build_page(clockwork, shown), "What add writes", CodeBlock)
    assert code.text == json.dumps(shown.group, indent="\t", ensure_ascii=False)
    said = plain(blocks_of(build_page(clockwork, shown), "What add writes", Paragraph)[0].text)
    assert "ccendpoint add clockwork merges into VS Code's chatLanguageModels.json (direct mode)" in said


def test_a_provider_that_needs_a_port_it_lacks_shows_the_direct_group_and_how_to_add_it() -> None:
    provider = portless()
    shown = shown_group(provider)
    assert shown.mode == "direct" and shown.note is not None and "--port PORT" in shown.note
    assert {m["url"] for m in shown.group["models"]} == {provider.endpoint(None).url}
    page = build_page(provider, shown)
    commands = blocks_of(page, "", CodeBlock)[0].text
    assert commands == "ccendpoint add orbit --port PORT\nccendpoint proxy orbit --port PORT"
    said = [plain(p.text) for p in blocks_of(page, "What add writes", Paragraph)]
    assert shown.note.replace("`", "") in said
    assert any("ccendpoint add orbit --mode direct --force" in line for line in said)
    facts = run_facts(page)
    assert facts[0] == "Mode: required; add needs --port PORT: the catalog gives the proxy no port."
    assert not any(line.startswith("Port:") for line in facts)


# --- the two renderings say the same ---------------------------------------------------------------


def terminal(page: Page, width: int) -> str:
    out = io.StringIO()
    print_page(Console(file=out, width=width, highlight=False, color_system=None), page)
    return out.getvalue()


def unmarked(text: str) -> str:
    """Markdown or terminal text without the marking either adds: backticks, bold, autolink brackets, escapes."""
    text = re.sub(r"<(https?://[^>\s]+)>", r"\1", text)
    return text.replace("`", "").replace("**", "").replace("\\|", "|")


def row_pattern(cells: Sequence[str]) -> re.Pattern[str]:
    """A table row as one line, in any frame: the cells in order, with spaces or rules between them."""
    return re.compile(r"[\s│┃|]+".join(re.escape(cell) for cell in cells))


PAGES = {
    "orbit": lambda: page_of(fixture_provider("orbit")),
    "orbit one model": lambda: page_of(fixture_provider("orbit"), "orbit-1"),
    "clockwork": lambda: page_of(fixture_provider("clockwork")),
    "portless": lambda: build_page(portless(), shown_group(portless())),
}


@pytest.mark.parametrize("name", PAGES)
def test_markdown_and_terminal_carry_every_fact_of_the_page(name: str) -> None:
    page = PAGES[name]()
    md = markdown(page)
    md_lines = [unmarked(line) for line in md.splitlines()]
    wide = terminal(page, 1000)  # nothing wraps: every row and item is one line
    tty_lines = [unmarked(line).rstrip() for line in wide.splitlines()]
    assert md_lines[0] == f"# {page.title}" and tty_lines[0] == page.title
    for sec in page.sections:
        if sec.heading:
            assert f"## {plain(sec.heading)}" in md_lines and plain(sec.heading) in tty_lines
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                assert plain(block.text) in md_lines
                assert any(line.strip() == plain(block.text) for line in tty_lines), plain(block.text)
            elif isinstance(block, Bullets):
                for text in ([block.lead] if block.lead else []) + list(block.items):
                    said = plain(text) if text is block.lead else f"- {plain(text)}"
                    assert said in md_lines, said
                    assert any(line.strip() == said for line in tty_lines), said
            elif isinstance(block, Table):
                headers = [c.header for c in block.columns]
                assert any(row_pattern(headers).search(line) for line in md_lines), headers
                assert any(row_pattern(headers).search(line) for line in tty_lines), headers
                for row in block.rows:
                    cells = [plain(c) for c in row.cells]
                    assert any(row_pattern(cells).search(line) for line in md_lines), cells
                    assert any(row_pattern(cells).search(line) for line in tty_lines), cells
            else:
                assert isinstance(block, CodeBlock)
                assert f"```{block.language}\n{block.text}\n```" in md
                assert f"\n{block.text}\n" in wide  # verbatim: tabs kept, nothing wrapped
    # and nothing more: the bullets of one are the bullets of the other
    md_bullets = [line for line in md_lines if line.startswith("- ")]
    tty_bullets = [line.strip() for line in tty_lines if line.strip().startswith("- ")]
    assert md_bullets == tty_bullets


def fact_words(page: Page) -> set[str]:
    """Every word the page says, but for yes/no cells (a narrow table says "vision" or "no vision")."""
    texts = [page.title]
    for sec in page.sections:
        texts.append(plain(sec.heading))
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                texts.append(plain(block.text))
            elif isinstance(block, Bullets):
                texts += [plain(block.lead), *(plain(item) for item in block.items)]
            elif isinstance(block, Table):
                texts += [
                    plain(c)
                    for row in block.rows
                    for col, c in zip(block.columns, row.cells, strict=True)
                    if not col.flag
                ]
    return set(" ".join(texts).split())


@pytest.mark.parametrize("name", PAGES)
def test_the_terminal_page_fits_80_columns_and_keeps_every_word(name: str) -> None:
    page = PAGES[name]()
    narrow = terminal(page, 80)
    code = [b.text for s in page.sections for b in s.blocks if isinstance(b, CodeBlock)]
    prose = narrow
    for text in code:  # code goes out verbatim, its lines as long as they are
        assert text in prose
        prose = prose.replace(text, "")
    assert all(len(line) <= 80 for line in prose.splitlines()), prose
    missing = fact_words(page) - set(unmarked(prose).split())
    assert not missing
