"""Terminal output that fits the width: tables that stack columns by priority, indented text, progress.

Nothing is ever cut: a table that does not fit moves its least important columns under the first
one, as a dim line of ``label: value`` pairs; when even that does not fit, each row becomes a small
card. Long values (URLs, ids) wrap onto the next line rather than end in "…".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ccendpoint.commands import common

Justify = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Column:
    header: str
    justify: Justify = "left"
    #: 0: always a column of its own. Higher numbers move under the first column sooner.
    priority: int = 0
    #: Long prose that may wrap inside its column (a table column), e.g. a description.
    wrap: bool = False
    #: How a value moved under the first column is introduced: "vision" → "vision: yes";
    #: "" shows the value alone (it speaks for itself); None uses the header in lower case.
    label: str | None = None
    #: Shown only while there is room (a bar chart, say); never moved under the first column.
    decoration: bool = False
    #: A yes/no value: moved under the first column it reads "vision" or "no vision".
    flag: bool = False
    #: The same for runs of rows (the provider): moved, it becomes a heading above each run.
    group: bool = False

    def stacked(self, value: str) -> str:
        label = self.header.lower() if self.label is None else self.label
        if self.flag:
            return label if value == "yes" else f"no {label}"
        return f"{label}: {value}" if label else value


@dataclass(frozen=True)
class Row:
    cells: Sequence[str]
    style: str | None = None
    section: bool = False  # a rule above this row (totals)


def fit_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Row | Sequence[str]],
    *,
    title: str | None = None,
) -> RenderableType:
    """The widest arrangement of ``rows`` that fits ``console.width`` without cutting any value."""
    plain = [row if isinstance(row, Row) else Row(tuple(row)) for row in rows]
    decorations = [i for i, c in enumerate(columns) if c.decoration]
    movable = [i for i, c in enumerate(columns) if c.priority > 0 and not c.decoration]
    movable.sort(key=lambda i: -columns[i].priority)
    attempts: list[tuple[set[int], set[int]]] = [(set(), set())]
    if decorations:
        attempts.append((set(), set(decorations)))
    for count in range(1, len(movable) + 1):
        attempts.append((set(movable[:count]), set(decorations)))

    def attempt(number: int) -> Table | None:
        stacked, dropped = attempts[number]
        table = _table(columns, plain, stacked, dropped, title, light=number > 0)
        return table if _fits(console, table, columns, plain, stacked | dropped) else None

    # each attempt is narrower than the one before: the first that fits is found by halving
    found = attempt(0)
    if found is not None:
        return found
    low, high, best = 1, len(attempts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        table = attempt(middle)
        if table is not None:
            best, high = table, middle - 1
        else:
            low = middle + 1
    return best if best is not None else _cards(columns, plain, set(decorations), title)


def _runs(rows: Sequence[Row], indexes: Sequence[int]) -> bool:
    """True when equal values of the columns ``indexes`` sit together, so one heading per run says them."""
    seen: set[tuple[str, ...]] = set()
    previous = None
    for row in rows:
        value = tuple(row.cells[i] for i in indexes)
        if value != previous and value in seen:
            return False
        seen.add(value)
        previous = value
    return True


def _table(
    columns: Sequence[Column],
    rows: Sequence[Row],
    stacked: set[int],
    dropped: set[int],
    title: str | None,
    *,
    light: bool = False,
) -> Table:
    if light:  # no outer frame, one space of padding between columns: room for one more column
        table = Table(
            title=title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
    else:
        table = Table(title=title, title_justify="left", box=box.HEAVY_HEAD)
    shown = [i for i in range(len(columns)) if i not in stacked and i not in dropped]
    grouped = sorted(i for i in stacked if columns[i].group)
    headings = grouped if grouped and _runs(rows, grouped) else []
    stacked = stacked - set(headings)
    for i in shown:
        column = columns[i]
        first = i == shown[0]
        wraps = column.wrap or (first and bool(stacked))
        # the first column's own value stays whole; what is stacked under it wraps
        keep = first and wraps and not column.wrap
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=not wraps,
            min_width=max((len(row.cells[i]) for row in rows), default=0) if keep else None,
            overflow="fold",
        )
    current_heading = None
    for row in rows:
        if row.section:
            table.add_section()
        heading = " · ".join(columns[j].stacked(row.cells[j]) for j in headings if row.cells[j].strip())
        if headings and heading != current_heading:
            table.add_row(Text(heading, style="bold"), *[""] * (len(shown) - 1))
            current_heading = heading
        cells: list[Text] = []
        for i in shown:
            cell = Text(row.cells[i])
            if i == shown[0] and stacked:
                extra = " · ".join(columns[j].stacked(row.cells[j]) for j in sorted(stacked) if row.cells[j].strip())
                if extra:
                    cell.append("\n" + extra, style="dim")
            cells.append(cell)
        table.add_row(*cells, style=row.style)
    return table


def _fits(console: Console, table: Table, columns: Sequence[Column], rows: Sequence[Row], moved: set[int]) -> bool:
    """Rendered at the console's width, nothing is cut: every header, every value that must stay on one
    line, and every word of the values that may wrap can still be found whole."""
    lines = ["".join(seg.text for seg in line) for line in console.render_lines(table, pad=False)]
    if any(len(line) > console.width for line in lines):
        return False
    text = "\n".join(lines)
    shown = [i for i in range(len(columns)) if i not in moved]
    wholes = {columns[i].header for i in shown}
    for row in rows:
        for i in shown:
            if not columns[i].wrap:
                wholes.add(row.cells[i])
            else:
                wholes.update(row.cells[i].split())
        for i in moved:  # stacked under the first column, or a heading: word by word
            if not columns[i].decoration and row.cells[i].strip():
                wholes.update(columns[i].stacked(row.cells[i]).split())
    return all(any(whole in line for line in lines) for whole in wholes if whole) and bool(text)


def _cards(columns: Sequence[Column], rows: Sequence[Row], dropped: set[int], title: str | None) -> RenderableType:
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="italic"))
    for row in rows:
        parts.append(Text(row.cells[0], style="bold"))
        for i in range(1, len(columns)):
            if i not in dropped and row.cells[i].strip():
                parts.append(_Hanging(f"{columns[i].header}: {row.cells[i]}", 2, style=row.style or ""))
    return Group(*parts)


class _Hanging:
    """Text wrapped at the console's width with a prefix on its first line and spaces under it."""

    def __init__(self, text: str, indent: int, marker: str = "", *, style: str = "", marker_style: str = "") -> None:
        self.text = text
        self.indent = indent
        self.marker = marker
        self.style = style
        self.marker_style = marker_style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        lead = self.indent + len(self.marker)
        width = max(1, options.max_width - lead)
        lines = Text(self.text, style=self.style).wrap(console, width, overflow="fold")
        for number, line in enumerate(lines):
            line.rstrip()
            if number == 0:
                yield Segment(" " * self.indent)
                yield Segment(self.marker, console.get_style(self.marker_style) if self.marker_style else None)
            else:
                yield Segment(" " * lead)
            yield from line.render(console)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lead = self.indent + len(self.marker)
        longest = max((len(word) for word in self.text.split()), default=0)
        return Measurement(lead + longest, lead + len(self.text)).clamp(max_width=options.max_width)


def indented(text: str, indent: int = 2, *, style: str = "") -> RenderableType:
    """Plain text that wraps with every line indented, never read as markup."""
    return _Hanging(text, indent, style=style)


def bullet(text: str, indent: int = 4, marker: str = "- ", *, marker_style: str = "") -> RenderableType:
    """A list item whose wrapped lines start under its text, not under the marker; never markup."""
    return _Hanging(text, indent, marker, marker_style=marker_style)


@contextlib.contextmanager
def progress(message: str, console: Console | None = None) -> Iterator[None]:
    """A spinner with ``message`` on stderr while the block runs, on a terminal only."""
    err = console or common.err_console()
    if not err.is_terminal:
        yield
        return
    with err.status(message):
        yield
