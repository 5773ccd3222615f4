"""A provider's page (:mod:`ccendpoint.provider_page`) on the terminal, fitted to its width.

Code is shown bare when it is one word (an id, a variable) and in `backticks` when it has spaces
(a command), so its ends stay clear; code blocks go out verbatim after a blank line, never wrapped,
because users copy them (the group keeps VS Code's tabs). Nothing from the catalog is read as rich
markup.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.text import Text as RichText

from ccendpoint.commands.layout import Column, Row, bullet, fit_table, indented
from ccendpoint.provider_page import Block, Bullets, Code, CodeBlock, Page, Paragraph, Span, Table, Text, words


def terminal_text(text: Text) -> str:
    return "".join(_span(span) for span in text)


def _span(span: Span) -> str:
    text = words(span)
    return f"`{text}`" if isinstance(span, Code) and " " in text else text


def print_page(out: Console, page: Page) -> None:
    out.print(RichText(page.title, style="bold"))
    for section in page.sections:
        indent = 0
        if section.heading:
            out.print()
            out.print(RichText(terminal_text(section.heading), style="bold"))
            indent = 2
        for block in section.blocks:
            _print_block(out, block, indent)


def _print_block(out: Console, block: Block, indent: int) -> None:
    if isinstance(block, Paragraph):
        out.print(indented(terminal_text(block.text), indent))
    elif isinstance(block, Bullets):
        if block.lead:
            out.print(indented(terminal_text(block.lead), indent))
        for item in block.items:
            out.print(bullet(terminal_text(item), indent + 2 if block.lead else indent))
    elif isinstance(block, Table):
        out.print(_table(out, block))
    else:
        _print_code(out, block)


def _table(out: Console, table: Table) -> RenderableType:
    columns = [
        Column(c.header, c.align, priority=c.rank, wrap=c.prose, flag=c.flag, label=None if c.labelled else "")
        for c in table.columns
    ]
    rows = [Row([terminal_text(cell) for cell in row.cells], style="dim" if row.muted else None) for row in table.rows]
    return fit_table(out, columns, rows)


def _print_code(out: Console, block: CodeBlock) -> None:
    # as raw text: rich would expand the tabs and wrap long lines; a blank line sets it apart
    out.file.flush()
    out.file.write("\n" + block.text + "\n")
    out.file.flush()
