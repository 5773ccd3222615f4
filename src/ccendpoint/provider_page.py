"""A provider's page as plain data: which facts ``show`` and the docs give, in which order and words.

A page is a title and sections made of four block kinds (paragraph, bullet list, table, code
block). Their text is a tuple of spans: plain words, :class:`Code` (something to type or copy: an
id, a command, a file or variable name), :class:`Link` and :class:`UI` (a name in VS Code's
interface). Renderers only decide how a span or block looks: ``docsgen`` writes Markdown and
``show`` writes to the terminal, so both say the same facts. Pure: no rich, no Markdown, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ccendpoint.catalog.export import proxy_env_names
from ccendpoint.catalog.facts import fact_lines
from ccendpoint.catalog.formatting import price_text, tokens_text
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.rules.pipeline import model_pipeline
from ccendpoint.vscode.blocks import GroupOptions, Mode, default_mode, fallback_limits, render_group
from ccendpoint.vscode.facts import MANAGE_MODELS, MODELS_FILE, MODELS_FILE_INDENT, UPDATE_API_KEY

# --- what a page is made of ------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """Something the reader types or copies, word for word."""

    text: str


@dataclass(frozen=True)
class Link:
    url: str


@dataclass(frozen=True)
class UI:
    """A name the reader finds in VS Code's interface: a Command Palette entry, a group."""

    text: str


Span = str | Code | Link | UI
Text = tuple[Span, ...]


@dataclass(frozen=True)
class Paragraph:
    text: Text


@dataclass(frozen=True)
class Bullets:
    items: tuple[Text, ...]
    #: The line that introduces the list ("What the proxy does for ..."); empty: none.
    lead: Text = ()


@dataclass(frozen=True)
class Column:
    header: str
    align: Literal["left", "right", "center"] = "left"
    #: Long text that may wrap.
    prose: bool = False
    #: 0: essential. Higher: the sooner a narrow screen may move it out of its own column.
    rank: int = 0
    #: A yes/no value.
    flag: bool = False
    #: False: a value says what it is without the header (a model's name).
    labelled: bool = True


@dataclass(frozen=True)
class Row:
    cells: tuple[Text, ...]
    #: Of less interest (a retired model).
    muted: bool = False


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class CodeBlock:
    """Text to copy as it is (commands, JSON): never wrapped or reflowed."""

    text: str
    language: str = ""


Block = Paragraph | Bullets | Table | CodeBlock


@dataclass(frozen=True)
class Section:
    #: Empty for the page's opening section.
    heading: Text
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Page:
    title: str
    sections: tuple[Section, ...]


def plain(text: Text) -> str:
    """The words of ``text`` without any marking."""
    return "".join(words(span) for span in text)


def words(span: Span) -> str:
    """The words of one span."""
    if isinstance(span, str):
        return span
    return span.url if isinstance(span, Link) else span.text


def spans(text: str) -> Text:
    """Catalog prose, whose `backticks` mark code as in Markdown, as spans (unbalanced ones stay text)."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return (text,)
    return tuple(Code(part) if number % 2 else part for number, part in enumerate(parts) if part)


def _listed(values: Sequence[str]) -> Text:
    """``a``, ``b``, ``c`` as code, comma-separated."""
    out: list[Span] = []
    for number, value in enumerate(values):
        out += [", "] if number else []
        out.append(Code(value))
    return tuple(out)


# --- the group the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class ShownGroup:
    """The group ``add`` writes by default, its mode, and what to know about it."""

    group: dict[str, Any]
    mode: Mode
    note: str | None = None


def needs_port(provider: Provider) -> bool:
    """The proxy is required but the catalog gives it no port: ``add`` and ``proxy`` need ``--port``."""
    return provider.proxy_mode == "required" and provider.proxy_port is None


def shown_group(provider: Provider, model_ids: Sequence[str] | None = None) -> ShownGroup:
    """What ``add`` writes with its defaults, for ``model_ids`` or the current models.

    ``add`` asks for ``--port`` when the proxy is required and has no port; the page shows the
    direct-mode group instead, with a note, rather than fail on an option a page does not have.
    """
    ids = list(model_ids) if model_ids else None
    if not needs_port(provider):
        return ShownGroup(render_group(provider, GroupOptions(model_ids=ids)), default_mode(provider))
    group = render_group(provider, GroupOptions(model_ids=ids, mode="direct", force=True))
    note = (
        f"The catalog gives {provider.name} no proxy port, so this is the direct-mode group, which fails "
        f"without the proxy. `ccendpoint add {provider.id} --port PORT` writes the proxy group instead."
    )
    return ShownGroup(group, "direct", note)


# --- the page ----------------------------------------------------------------------------------


def build_page(provider: Provider, shown: ShownGroup, chosen: Sequence[Model] = ()) -> Page:
    """The page of ``provider``, or of the ``chosen`` models only (``show PROVIDER MODEL``)."""
    models = list(chosen) or list(provider.models)
    in_group = {str(entry["id"]) for entry in shown.group["models"]}
    sections = [
        _opening(provider, chosen),
        Section(("Models",), _models(models, in_group)),
        Section(("Endpoints",), (_endpoints(provider),)),
        Section(("API key",), _api_key(provider)),
        Section(("Proxy",), _proxy(provider, shown, list(chosen) or list(provider.current_models()))),
    ]
    if provider.troubleshooting:
        sections.append(Section(("Troubleshooting",), (_troubleshooting(provider),)))
    sections.append(Section(("What ", Code("add"), " writes"), _group(provider, shown, chosen)))
    return Page(provider.name, tuple(sections))


def _add_command(provider: Provider, chosen: Sequence[Model], *extra: str) -> str:
    models = ["--models", ",".join(m.id for m in chosen)] if chosen else []
    return " ".join(["ccendpoint", "add", provider.id, *models, *extra])


def _opening(provider: Provider, chosen: Sequence[Model]) -> Section:
    blocks: list[Block] = []
    if provider.description:
        blocks.append(Paragraph(spans(provider.description)))
    facts: list[Text] = [("Provider id: ", Code(provider.id), "; VS Code group: ", UI(provider.group_name))]
    if provider.aliases:
        facts.append(("Also accepted: ", *_listed(provider.aliases)))
    facts.append((f"Defined by: {provider.origin}",))
    if provider.docs_url:
        facts.append(("Provider docs: ", Link(provider.docs_url)))
    blocks.append(Bullets(tuple(facts)))
    port = ("--port", "PORT") if needs_port(provider) else ()
    commands = [_add_command(provider, chosen, *port)]
    if needs_port(provider) or default_mode(provider) == "proxy":
        commands.append(" ".join(["ccendpoint", "proxy", provider.id, *port]))
    blocks.append(CodeBlock("\n".join(commands), "sh"))
    return Section((), tuple(blocks))


MODEL_COLUMNS = (
    Column("Id"),
    Column("Name", prose=True, rank=4, labelled=False),
    Column("Context", "right", rank=1),
    Column("Max output", "right", rank=1),
    Column("Vision", "center", rank=3, flag=True),
    Column("Tools", "center", rank=3, flag=True),
    Column("Thinking", rank=2),
    Column("In / out per 1M", "right"),
)


def _yes(flag: bool) -> Text:
    return ("yes" if flag else "no",)


def _model_row(model: Model) -> Row:
    name: Text = (model.name,)
    if model.deprecated:
        name += (" (deprecated → ", Code(model.replacement), ")") if model.replacement else (" (deprecated)",)
    cells = (
        (Code(model.id),),
        name,
        (tokens_text(model.context),),
        (tokens_text(model.max_output),),
        _yes(model.vision),
        _yes(model.tool_calling),
        (model.thinking,),
        (price_text(model),),
    )
    return Row(cells, muted=model.deprecated)


def _models(models: Sequence[Model], in_group: set[str]) -> tuple[Block, ...]:
    """The table, then each model's facts, notes, and the limits ``add`` fills in with VS Code's defaults."""
    blocks: list[Block] = [Table(MODEL_COLUMNS, tuple(_model_row(m) for m in models))]
    for model in models:
        items = [spans(line) for line in [*fact_lines(model), *model.notes]]
        missing = fallback_limits(model)
        if missing and model.id in in_group:
            defaults = _listed(missing)
            items.append(("limits not published; ", Code("add"), " writes VS Code's defaults (", *defaults, ")"))
        blocks.append(Bullets(tuple(items), lead=(Code(model.id), ":")))
    return tuple(blocks)


def _endpoints(provider: Provider) -> Table:
    columns = (Column("Region"), Column("Where", prose=True, rank=2), Column("URL"), Column("Keys", rank=1))
    rows = []
    for endpoint in provider.endpoints.values():
        region: Text = (Code(endpoint.region),)
        if endpoint.region == provider.default_region:
            region += (" (default)",)
        where: Text = (endpoint.label,) + ((" — ", *spans(endpoint.note)) if endpoint.note else ())
        keys = _listed([f"{prefix}…" for prefix in endpoint.key_prefixes]) or ("any",)
        rows.append(Row((region, where, (Link(endpoint.url),), keys)))
    return Table(columns, tuple(rows))


def _api_key(provider: Provider) -> tuple[Block, ...]:
    blocks: list[Block] = []
    if provider.key_format:
        blocks.append(Paragraph(spans(provider.key_format)))
    if provider.key_url:
        blocks.append(Paragraph(("Get one at ", Link(provider.key_url), ".")))
    blocks.append(
        Paragraph(
            (
                "Set it in VS Code: Command Palette → ",
                UI(MANAGE_MODELS),
                " → right-click the ",
                UI(provider.group_name),
                " group → ",
                UI(UPDATE_API_KEY),
                ". VS Code keeps it in its secret storage; ccendpoint never writes a key into ",
                Code(MODELS_FILE),
                ".",
            )
        )
    )
    if provider.key_env:
        blocks.append(
            Paragraph((Code("ccendpoint doctor --live"), " reads the key from ", *_listed(provider.key_env), "."))
        )
    return tuple(blocks)


MODE_WORDS = {"required": "required", "recommended": "recommended", "direct": "not needed"}


def _proxy(provider: Provider, shown: ShownGroup, models: Sequence[Model]) -> tuple[Block, ...]:
    """Why and how to run the proxy, then what it does for each model (current ones unless chosen)."""
    blocks: list[Block] = []
    if provider.proxy_why:
        blocks.append(Paragraph(spans(provider.proxy_why)))
    mode: Text = (f"Mode: {MODE_WORDS[provider.proxy_mode]}; ", Code("add"))
    if needs_port(provider):
        mode += (" needs ", Code("--port PORT"), ": the catalog gives the proxy no port.")
    else:
        mode += (f" writes {shown.mode} mode by default.",)
    facts: list[Text] = [mode]
    if provider.proxy_port is not None:
        facts.append((f"Port: {provider.proxy_port}; URL: ", Code(provider.proxy_url or "")))
        start = Code(f"ccendpoint proxy {provider.id}")
        facts.append(("Start: ", start, ", or at every login: ", Code(f"ccendpoint service install {provider.id}")))
    elif needs_port(provider):
        facts.append(("Start: ", Code(f"ccendpoint proxy {provider.id} --port PORT")))
    if provider.proxy_port is not None or needs_port(provider):
        facts.append(("Environment: ", *_listed(list(proxy_env_names(provider).values()))))
    blocks.append(Bullets(tuple(facts)))
    for model in models:
        lead = ("What the proxy does for ", Code(model.id), " (rule set ", Code(model.rules.name), "):")
        sentences = model_pipeline(provider.id, model).sentences()
        blocks.append(Bullets(tuple(spans(s) for s in sentences), lead=lead))
    return tuple(blocks)


def _troubleshooting(provider: Provider) -> Table:
    columns = (Column("Symptom", prose=True), Column("Cause", prose=True), Column("Fix", prose=True))
    rows = [Row((spans(t.symptom), spans(t.cause), spans(t.fix))) for t in provider.troubleshooting]
    return Table(columns, tuple(rows))


def _group(provider: Provider, shown: ShownGroup, chosen: Sequence[Model]) -> tuple[Block, ...]:
    direct = ("--mode", "direct", "--force") if needs_port(provider) else ()
    blocks: list[Block] = [
        Paragraph(
            (
                "The group below is what ",
                Code(_add_command(provider, chosen, *direct)),
                " merges into VS Code's ",
                Code(MODELS_FILE),
                f" ({shown.mode} mode).",
            )
        )
    ]
    if shown.note:
        blocks.append(Paragraph(spans(shown.note)))
    blocks.append(
        Paragraph(
            (
                "Released VS Code ignores ",
                Code("requestBody"),
                "; fields a model needs beyond ",
                Code("modelOptions"),
                " reach the upstream through the proxy.",
            )
        )
    )
    blocks.append(CodeBlock(json.dumps(shown.group, indent=MODELS_FILE_INDENT, ensure_ascii=False), "json"))
    return tuple(blocks)
