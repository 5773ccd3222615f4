"""Generate what is written from the code's own data: the provider pages and the rule vocabulary.

* ``docs/providers/<id>.md`` from the bundled catalog;
* the ``condition``, ``rule`` and ``rule_set`` definitions in ``catalog/schema.json`` and the
  vocabulary table in ``docs/catalog.md``, from the rule vocabulary (:mod:`ccendpoint.rules`).

Run ``python -m ccendpoint.docsgen`` after changing a catalog file or the vocabulary; ``--check``
exits 1 when a committed file differs from what it should be (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ccendpoint.catalog.export import proxy_env_names
from ccendpoint.catalog.facts import limit_lines, price_lines, source_lines
from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.formatting import money, price_text, tokens_text
from ccendpoint.rules.pipeline import model_pipeline
from ccendpoint.rules.ruleset import schema_defs, vocabulary_table
from ccendpoint.vscode.blocks import GroupOptions, default_mode, fallback_limits, render_group

HEADER = "<!-- Generated from src/ccendpoint/catalog/providers/{id}.yaml by `python -m ccendpoint.docsgen`. -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _model_row(model: Model) -> str:
    status = "current" if not model.deprecated else f"deprecated → `{model.replacement}`"
    cached = "—"
    if model.pricing and model.pricing.cached_input is not None:
        cached = money(model.pricing.cached_input, model.pricing.currency)
    cells = [
        f"`{model.id}`",
        model.name,
        status,
        tokens_text(model.context),
        tokens_text(model.max_output),
        "yes" if model.vision else "no",
        "yes" if model.tool_calling else "no",
        model.thinking,
        price_text(model),
        cached,
        model.facts_date,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _fact_notes(model: Model) -> list[str]:
    """Prices, output limits, sources and assumptions; an unknown price only for current models."""
    out = price_lines(model) if model.pricing or not model.deprecated else []
    out += limit_lines(model)
    if model.source:
        out.append(f"source: {model.source}")
    if model.assumed:
        out += source_lines(model)[1:2]
    return out


def render_provider_page(provider: Provider) -> str:
    lines = [HEADER.format(id=provider.id), "", f"# {provider.name}", ""]
    if provider.description:
        lines += [provider.description, ""]
    lines += [
        "```sh",
        f"ccendpoint add {provider.id}",
        *([f"ccendpoint proxy {provider.id}"] if default_mode(provider) == "proxy" else []),
        "```",
        "",
    ]
    mode_word = {"required": "required", "recommended": "recommended", "direct": "not needed"}[provider.proxy_mode]
    lines += [f"- Provider id: `{provider.id}`; VS Code group: `{provider.group_name}`"]
    if provider.aliases:
        lines += [f"- Also accepted: {', '.join(f'`{a}`' for a in provider.aliases)}"]
    lines += [f"- Proxy: {mode_word}" + (f", port {provider.proxy_port}" if provider.proxy_port else "")]
    if provider.docs_url:
        lines += [f"- Provider docs: <{provider.docs_url}>"]
    lines += ["", "## Models", ""]
    lines += [
        "| Id | Name | Status | Context | Max output | Vision | Tools | Thinking "
        "| In / out per 1M | Cached in | Facts as of |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_model_row(m) for m in provider.models]
    notes = [(m, note) for m in provider.models for note in m.notes]
    facts = [(m, line) for m in provider.models for line in _fact_notes(m)]
    if notes or facts:
        lines += [""]
    for m, line in facts:
        lines += [f"- `{m.id}`: {line}"]
    for m, note in notes:
        lines += [f"- `{m.id}`: {note}"]
    for m in provider.models:
        missing = fallback_limits(m)
        if missing and not m.deprecated:
            lines += [f"- `{m.id}`: limits not published; `add` writes VS Code's defaults ({', '.join(missing)})."]

    lines += ["", "## Endpoints", "", "| Region | Where | URL | Keys |", "|---|---|---|---|"]
    for e in provider.endpoints.values():
        region = f"`{e.region}`" + (" (default)" if e.region == provider.default_region else "")
        where = e.label + (f" — {e.note}" if e.note else "")
        keys = ", ".join(f"`{p}…`" for p in e.key_prefixes) or "any"
        lines += [f"| {region} | {_cell(where)} | {e.url} | {keys} |"]

    lines += ["", "## API key", ""]
    if provider.key_format:
        lines += [provider.key_format, ""]
    if provider.key_url:
        lines += [f"Get one at <{provider.key_url}>.", ""]
    lines += [
        "Set it in VS Code: Command Palette → **Chat: Manage Language Models** → right-click the "
        f"**{provider.group_name}** group → **Update API Key**. VS Code keeps it in its secret storage; "
        "ccendpoint never writes a key into `chatLanguageModels.json`.",
    ]
    if provider.key_env:
        lines += ["", f"`ccendpoint doctor --live` reads the key from {', '.join(f'`{v}`' for v in provider.key_env)}."]

    lines += ["", "## Proxy", ""]
    if provider.proxy_why:
        lines += [provider.proxy_why, ""]
    if provider.proxy_port:
        env = proxy_env_names(provider)
        lines += [
            f"`ccendpoint proxy {provider.id}` listens on `{provider.proxy_url}`. "
            f"Environment: `{env['port']}`, `{env['upstream']}`, `{env['log']}`.",
            "",
        ]
    for m in provider.models:
        if m.deprecated:
            continue
        lines += [f"What the proxy does for `{m.id}` (rule set `{m.rules.name}`):", ""]
        lines += [f"- {s}" for s in model_pipeline(provider.id, m).sentences()]
        lines += [""]

    if provider.troubleshooting:
        lines += ["## Troubleshooting", "", "| Symptom | Cause | Fix |", "|---|---|---|"]
        lines += [f"| {_cell(t.symptom)} | {_cell(t.cause)} | {_cell(t.fix)} |" for t in provider.troubleshooting]
        lines += [""]

    group = render_group(provider, GroupOptions())
    lines += [
        "## What `add` writes",
        "",
        f"The group below is merged into VS Code's `chatLanguageModels.json` ({default_mode(provider)} mode).",
        "Released VS Code ignores `requestBody`; fields a model needs beyond `modelOptions` reach the upstream "
        "through the proxy.",
        "",
        "```json",
        json.dumps(group, indent="\t", ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """File name → content for every bundled provider (user overlays never reach the docs)."""
    catalog = load_catalog(use_overlays=False)
    return {f"{p.id}.md": render_provider_page(p) for p in catalog.providers}


SCHEMA = Path(__file__).parent / "catalog" / "schema.json"
VOCABULARY_START = "<!-- vocabulary: generated by `python -m ccendpoint.docsgen` -->"
VOCABULARY_END = "<!-- end of vocabulary -->"


def schema_text(current: str) -> str:
    """The catalog schema with its rule definitions as the vocabulary gives them."""
    schema = json.loads(current)
    schema["$defs"].update(schema_defs())
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def catalog_doc_text(current: str) -> str:
    """``docs/catalog.md`` with the vocabulary table between its markers."""
    start = current.index(VOCABULARY_START) + len(VOCABULARY_START)
    end = current.index(VOCABULARY_END)
    return current[:start] + "\n" + vocabulary_table() + "\n" + current[end:]


def vocabulary_files(docs: Path) -> dict[Path, str]:
    """Path → content of the files written from the rule vocabulary."""
    catalog_doc = docs / "catalog.md"
    return {
        SCHEMA: schema_text(SCHEMA.read_text("utf-8")),
        catalog_doc: catalog_doc_text(catalog_doc.read_text("utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/providers"), help="Folder of the pages.")
    parser.add_argument(
        "--docs", type=Path, default=None, help="The docs folder with catalog.md (default: the pages' parent)."
    )
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 if a file is out of date.")
    args = parser.parse_args(argv)
    docs = args.docs or args.out.parent
    files = {args.out / name: text for name, text in pages().items()}
    if (docs / "catalog.md").exists():
        files.update(vocabulary_files(docs))
    stale = []
    for path, text in files.items():
        current = path.read_text("utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    if args.check and stale:
        sys.stderr.write("Out of date: " + ", ".join(stale) + "\nRun: python -m ccendpoint.docsgen\n")
        return 1
    for name in stale:
        sys.stdout.write(f"wrote {name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
