"""Tables that fit the terminal: columns move under the first one by priority, nothing is cut."""

from __future__ import annotations

import io

from rich.console import Console

from ccendpoint.commands.layout import Column, Row, bullet, fit_table, progress

COLUMNS = [
    Column("Model id"),
    Column("Provider", priority=3, group=True, label=""),
    Column("Name", priority=2, label=""),
    Column("Vision", priority=1, flag=True),
    Column("Price", "right"),
    Column("", decoration=True),
]
ROWS = [
    ["acme-large-2026-preview-long-id", "acme", "Acme Large", "yes", "$1.00 / $2.00", "████████"],
    ["acme-small", "acme", "Acme Small", "no", "$0.10 / $0.20", "█"],
    ["other-model", "other", "Other Model", "yes", "—", ""],
]


def render(width: int, columns: list[Column] = COLUMNS, rows: list[list[str]] = ROWS) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(fit_table(console, columns, rows, title="Models"))
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_a_table_that_fits_keeps_every_column() -> None:
    lines = render(200)
    header = next(line for line in lines if "Model id" in line)
    for name in ("Provider", "Name", "Vision", "Price"):
        assert name in header
    assert any("████████" in line for line in lines)


def test_narrow_first_drops_decorations_then_moves_columns_by_priority() -> None:
    lines = render(74)
    header = next(line for line in lines if "Model id" in line)
    assert "Provider" not in header and "Price" in header
    text = "\n".join(lines)
    assert "████████" not in text
    # the provider became a heading above each run of its rows
    assert any(line.strip() == "acme" for line in lines) and any(line.strip() == "other" for line in lines)
    assert all(len(line) <= 74 for line in lines)


def test_moved_flags_read_as_words_and_values_stay_whole() -> None:
    lines = render(48)
    text = "\n".join(lines)
    assert "Vision" not in text and "no vision" in text
    for row in ROWS:
        assert any(row[0] in line for line in lines), row[0]
        if row[4] != "—":
            assert any(row[4] in line for line in lines), row[4]
    assert all(len(line) <= 48 for line in lines)
    assert "…" not in text


def test_a_value_wider_than_the_terminal_becomes_a_card() -> None:
    url = "https://example.com/" + "v1/" * 20 + "chat/completions"
    rows = [["global", url, "Global endpoint"]]
    columns = [Column("Region"), Column("URL"), Column("Where", wrap=True, priority=1)]
    lines = render(len(url) + 8, columns, rows)
    assert any(line.strip() == f"URL: {url}" for line in lines), lines
    assert any(line.strip() == "global" for line in lines)


def test_totals_row_comes_after_a_rule() -> None:
    rows = [Row(["a", "1"]), Row(["total", "1"], style="bold", section=True)]
    lines = render(40, [Column("Name"), Column("Count", "right")], rows)  # type: ignore[arg-type]
    index = next(i for i, line in enumerate(lines) if "total" in line)
    assert set(lines[index - 1].strip()) <= set("─━├┤┼")


def test_bullet_wraps_under_its_text() -> None:
    console = Console(width=30, file=io.StringIO(), color_system=None)
    console.print(bullet("one two three four five six seven eight nine", 4, "- "))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith("    - one")
    assert all(line.startswith("      ") for line in lines[1:]) and len(lines) > 1


def test_progress_shows_on_a_terminal_only() -> None:
    quiet = Console(file=io.StringIO(), force_terminal=False)
    with progress("Checking things…", quiet):
        pass
    assert quiet.file.getvalue() == ""  # type: ignore[attr-defined]
    loud = Console(file=io.StringIO(), force_terminal=True, width=60)
    with progress("Checking things…", loud):
        pass
    assert "Checking things" in loud.file.getvalue()  # type: ignore[attr-defined]
