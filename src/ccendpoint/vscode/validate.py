"""Would VS Code accept this ``chatLanguageModels.json``? Its schema, and what a schema cannot say.

``vscode/schema.json`` checks the Custom Endpoint groups in full and other vendors' groups for
vendor and name only. Beyond it: two groups of one vendor may not share a name, a model id may
appear once per group, and a custom model may not take the id of a model Copilot serves itself.
Every problem names its place the way the user sees it (group "Kimi" › model "kimi-k2.6" › url)
and never shows a value from the file, which can hold an API key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import jsonschema

from ccendpoint import schema_errors
from ccendpoint.errors import CcendpointError
from ccendpoint.vscode.document import BOM, parse
from ccendpoint.vscode.facts import BUILTIN_MODEL_IDS, OPEN_MODELS_JSON, VENDOR
from ccendpoint.vscode.plan import Plan


@dataclass(frozen=True, order=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@functools.cache
def _validator() -> Any:
    schema = json.loads(files("ccendpoint.vscode").joinpath("schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate(groups: Any) -> list[Problem]:
    """Every problem in the document: the schema first, then what a schema cannot say."""
    problems = {
        Problem(_label(groups, found.path), found.message)
        for found in schema_errors.problems(_validator(), groups, "vscode")
    }
    if isinstance(groups, list):
        problems.update(_duplicate_groups(groups))
        for index, group in enumerate(groups):
            if isinstance(group, dict) and group.get("vendor") == VENDOR:
                problems.update(_model_id_problems(groups, index, group))
    return sorted(problems)


def check_result(plan: Plan, force: bool) -> list[str]:
    """Refuse a result VS Code would reject; problems already in the file pass with ``force``.

    Returns the warnings for the problems let through.
    """
    after = validate(list(plan.after))
    if not after:
        return []
    before = set(validate(parse(plan.old_text).value)) if plan.old_text.lstrip(BOM).strip() else set()
    introduced = [p for p in after if p not in before]
    if introduced or not force:
        raise CcendpointError(_problem_text(after, before), hint=_problem_hint(introduced))
    return [f"already in the file, left as it is: {p}" for p in after]


def _problem_text(after: list[Problem], before: set[Problem]) -> str:
    lines = [f"The result would not be valid for VS Code ({len(after)} problem(s)); nothing was written:"]
    lines += [f"  - {p}" + ("  (already in the file)" if p in before else "") for p in after]
    return "\n".join(lines)


def _problem_hint(introduced: list[Problem]) -> str:
    if introduced:
        return "Fix the options (or the catalog entry) that cause these problems, then run again."
    return (
        f"These problems were in the file before; fix them in VS Code ({OPEN_MODELS_JSON}), "
        "or add --force to write anyway and leave them as they are."
    )


def _label(groups: Any, path: Iterable[Any]) -> str:
    """A readable place: group "Kimi" › model "kimi-k2.6" › url."""
    parts: list[str] = []
    node: Any = groups
    steps = list(path)
    for position, step in enumerate(steps):
        node = _child(node, step)
        if position == 0 and isinstance(step, int):
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f'group "{name}"' if isinstance(name, str) else f"group #{step + 1}")
        elif isinstance(step, int) and steps[position - 1] == "models":
            model_id = node.get("id") if isinstance(node, dict) else None
            parts[-1:] = [f'model "{model_id}"' if isinstance(model_id, str) else f"model #{step + 1}"]
        else:
            parts.append(str(step))
    return " › ".join(parts) if parts else "the file"


def _child(node: Any, step: Any) -> Any:
    try:
        return node[step]
    except (KeyError, IndexError, TypeError):
        return None


def _duplicate_groups(groups: list[Any]) -> set[Problem]:
    seen: dict[tuple[str, str], int] = {}
    problems: set[Problem] = set()
    for group in groups:
        if not isinstance(group, dict):
            continue
        vendor, name = group.get("vendor"), group.get("name")
        if isinstance(vendor, str) and isinstance(name, str):
            seen[(vendor, name)] = seen.get((vendor, name), 0) + 1
    for (vendor, name), count in seen.items():
        if count > 1:
            problems.add(Problem(f'group "{name}"', f"{count} {vendor} groups share this name; VS Code allows one"))
    return problems


def _model_id_problems(groups: list[Any], index: int, group: Mapping[str, Any]) -> set[Problem]:
    models = group.get("models")
    if not isinstance(models, list):
        return set()
    problems: set[Problem] = set()
    counts: dict[str, int] = {}
    for model in models:
        if isinstance(model, dict) and isinstance(model.get("id"), str):
            counts[model["id"]] = counts.get(model["id"], 0) + 1
    where = _label(groups, [index])
    for model_id, count in counts.items():
        if count > 1:
            problems.add(Problem(f'{where} › model "{model_id}"', f"listed {count} times; VS Code skips the repeats"))
        if model_id.lower() in BUILTIN_MODEL_IDS:
            problems.add(
                Problem(
                    f'{where} › model "{model_id}"',
                    "same id as a model Copilot serves itself; VS Code hides it, so use a different id",
                )
            )
    return problems
