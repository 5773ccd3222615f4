"""Read the bundled catalog and the user's overlays, validate them, build a :class:`Catalog`.

Order of precedence, lowest first: the bundled files, ``<user config dir>/catalog/*.yaml``,
the paths in ``CCENDPOINT_CATALOG`` (separated by the OS path separator), then ``--catalog``.
A later file with the same provider id replaces the earlier definition, or extends it when the
file says ``extends: true`` (models are merged by id, other keys override).

Schema validation uses jsonschema, which is slow to import; a file whose exact bytes already
passed against the exact schema is remembered in the cache folder and not validated again.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ccendpoint import __version__, dirs, schema_errors
from ccendpoint.catalog.build import minutes, provider_from_data
from ccendpoint.catalog.installed import active, installed_sources
from ccendpoint.catalog.model import (
    Catalog,
    Provider,
)
from ccendpoint.errors import CatalogError, CcendpointError
from ccendpoint.files import write_atomic

ENV_VAR = "CCENDPOINT_CATALOG"
_PACKAGE = "ccendpoint.catalog"


#: The largest catalog file read: the bundled ones are about 10 KB; anything near this is a mistake.
MAX_FILE_BYTES = 1024 * 1024


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML without the timestamp resolver (dates stay strings, as the schema expects), and
    refusing a key given twice in one mapping (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Source:
    """One catalog file: what error messages call it, and its bytes."""

    label: str
    data: bytes


def schema_bytes() -> bytes:
    return resources.files(_PACKAGE).joinpath("schema.json").read_bytes()


def bundled_sources() -> list[Source]:
    folder = resources.files(_PACKAGE).joinpath("providers")
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith((".yaml", ".yml"))),
        key=lambda entry: entry.name,
    )
    return [Source(entry.name, entry.read_bytes()) for entry in entries]


def overlay_paths(cli_paths: Sequence[Path] = (), environ: Mapping[str, str] | None = None) -> list[Path]:
    """Every user catalog file that applies, in precedence order (lowest first)."""
    env = os.environ if environ is None else environ
    paths: list[Path] = [dirs.config_dir() / "catalog"]
    paths += [Path(p) for p in env.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    paths += list(cli_paths)
    files: list[Path] = []
    for index, path in enumerate(paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.exists():
            files.append(path)
        elif index > 0:  # the default folder may be absent; a path the user named may not
            raise CatalogError(str(path), "", "no such file or folder")
    return files


def base_sources() -> tuple[list[Source], str]:
    """The catalog the user's overlays apply to, and its kind: an installed update when one is
    active (see :mod:`ccendpoint.catalog.installed`), else the files this release bundles."""
    info = active()
    if info.kind != "installed" or info.folder is None:
        return bundled_sources(), "bundled"
    return [Source(str(info.folder / name), data) for name, data in installed_sources(info)], "installed"


def build_catalog(sources: Sequence[Source]) -> Catalog:
    """A catalog from these files alone, checked as strictly as the bundled one (no overlays)."""
    return _load(sources, "bundle", [], None, use_overlays=False)


def load_catalog(
    cli_paths: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
    *,
    use_overlays: bool = True,
) -> Catalog:
    """The catalog as the user sees it: the bundled (or installed) catalog plus their overlays.

    Without overlays it is the bundled catalog alone, whatever the user installed (for the docs).
    """
    base, kind = base_sources() if use_overlays else (bundled_sources(), "bundled")
    return _load(base, kind, cli_paths, environ, use_overlays=use_overlays)


def _load(
    base_files: Sequence[Source],
    kind: str,
    cli_paths: Sequence[Path],
    environ: Mapping[str, str] | None,
    *,
    use_overlays: bool,
) -> Catalog:
    schema = schema_bytes()
    validator = _Validator(schema)
    docs: dict[str, tuple[dict[str, Any], str]] = {}
    order: list[str] = []
    sources: list[str] = []
    for source in base_files:
        doc = _parse(source)
        validator.check(source, doc, partial=False)
        _add(docs, order, doc, "bundled", source.label)
        sources.append(f"{kind}:{Path(source.label).name}")
    if use_overlays:
        for path in overlay_paths(cli_paths, environ):
            try:
                source = Source(str(path), path.read_bytes())
            except OSError as exc:
                raise CatalogError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
            doc = _parse(source)
            partial = doc.get("extends") is True
            validator.check(source, doc, partial=partial)
            provider_id = doc["id"]
            if partial:
                if provider_id not in docs:
                    raise CatalogError(source.label, "id", f"extends unknown provider '{provider_id}'")
                base, _ = docs[provider_id]
                merged = _merge(base, doc)
                validator.check(source, merged, partial=False, merged=True)
                docs[provider_id] = (merged, f"user (extends bundled): {path}")
            else:
                origin = "user (replaces bundled)" if provider_id in docs else "user (new)"
                _add(docs, order, doc, f"{origin}: {path}", source.label)
            sources.append(str(path))
    providers = tuple(provider_from_data(docs[pid][0], docs[pid][1]) for pid in order)
    _check_across(providers)
    return Catalog(providers=providers, sources=tuple(sources))


def _add(
    docs: dict[str, tuple[dict[str, Any], str]], order: list[str], doc: dict[str, Any], origin: str, label: str
) -> None:
    provider_id = doc["id"]
    if provider_id not in docs:
        order.append(provider_id)
    elif origin == "bundled":
        raise CatalogError(label, "id", f"provider '{provider_id}' is defined twice")
    docs[provider_id] = (doc, origin)


def _refuse_aliases(source: Source) -> None:
    """Aliases (``*name``) can make a few hundred bytes expand into gigabytes: catalog files have none."""
    if b"*" not in source.data:  # every alias has one; most files have none, and skip the scan
        return
    for event in yaml.parse(source.data, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise CatalogError(
                source.label, where, "YAML aliases (*name) are not allowed in catalog files; write the value out"
            )


def _parse(source: Source) -> dict[str, Any]:
    if len(source.data) > MAX_FILE_BYTES:
        raise CatalogError(
            source.label,
            "",
            f"is {len(source.data) / 1024 / 1024:.1f} MiB; a catalog file may be at most "
            f"{MAX_FILE_BYTES // 1024 // 1024} MiB (one provider's YAML is a few kilobytes)",
        )
    try:
        _refuse_aliases(source)
        doc = yaml.load(source.data, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CatalogError(source.label, where, f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(source.label, "", f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise CatalogError(source.label, "", "must be a mapping with id, name, endpoints and models")
    return doc


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if key == "extends":
            continue
        if key == "models":
            models = {m["id"]: m for m in merged.get("models", [])}
            ordered = [m["id"] for m in merged.get("models", [])]
            for model in value:
                if model["id"] in models:
                    models[model["id"]] = {**models[model["id"]], **model}
                else:
                    models[model["id"]] = dict(model)
                    ordered.append(model["id"])
            merged["models"] = [models[i] for i in ordered]
        elif key in ("endpoints", "rule_sets", "proxy", "api_key") and isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# -- validation ---------------------------------------------------------------------------


class _Validator:
    def __init__(self, schema: bytes) -> None:
        self._schema_bytes = schema
        self._stamps_path = dirs.cache_dir() / "catalog-validated.json"
        self._stamps: set[str] | None = None
        self._new_stamps: set[str] = set()

    def check(self, source: Source, doc: dict[str, Any], *, partial: bool, merged: bool = False) -> None:
        payload = json.dumps(doc, sort_keys=True, default=str).encode() if merged else source.data
        # the code version too: a release that adds semantic checks validates every file again
        key = f"{__version__}\0{partial}\0".encode() + self._schema_bytes + b"\0" + payload
        stamp = hashlib.sha256(key).hexdigest()
        if stamp in self._load_stamps():
            return
        problems = list(schema_problems(doc, self._schema_bytes, partial=partial))
        problems += semantic_problems(doc) if not partial else []
        if problems:
            path, problem = problems[0]
            label = f"{source.label} (merged with the bundled provider)" if merged else source.label
            extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CatalogError(label, path, problem + extra)
        self._remember(stamp)

    def _load_stamps(self) -> set[str]:
        if self._stamps is None:
            try:
                self._stamps = set(json.loads(self._stamps_path.read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                self._stamps = set()
        return self._stamps

    def _remember(self, stamp: str) -> None:
        stamps = self._load_stamps()
        stamps.add(stamp)
        with contextlib.suppress(CcendpointError):  # a read-only cache only costs time
            write_atomic(self._stamps_path, json.dumps(sorted(stamps)[-500:]).encode("utf-8"), None)


def schema_problems(doc: Any, schema: bytes | None = None, *, partial: bool = False) -> Iterator[tuple[str, str]]:
    """(path, problem) for every place where ``doc`` breaks the catalog schema."""
    import jsonschema  # imported here: slow, and only needed for files not validated before

    schema_doc = json.loads(schema or schema_bytes())
    if partial:
        schema_doc["required"] = ["id"]
        schema_doc["$defs"]["model"]["required"] = ["id"]
    validator = jsonschema.Draft202012Validator(schema_doc)
    for problem in schema_errors.problems(validator, doc, "catalog"):
        yield schema_errors.dotted(problem.path), problem.message


def semantic_problems(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Checks the schema cannot express: references between parts of one provider file."""
    problems: list[tuple[str, str]] = []
    endpoints = doc.get("endpoints", {})
    if doc.get("default_region") not in endpoints:
        problems.append(
            ("default_region", f"'{doc.get('default_region')}' is not one of the endpoints ({', '.join(endpoints)})")
        )
    rule_sets = doc.get("rule_sets", {})
    default_rules = doc.get("proxy", {}).get("default_rules")
    if default_rules is not None and default_rules not in rule_sets:
        problems.append(("proxy.default_rules", f"unknown rule set '{default_rules}'"))
    seen: set[str] = set()
    ids = {m.get("id") for m in doc.get("models", [])}
    for index, model in enumerate(doc.get("models", [])):
        model_id = model.get("id")
        if model_id in seen:
            problems.append((f"models[{index}].id", f"duplicate model id '{model_id}'"))
        seen.add(model_id)
        if model.get("rules") is not None and model["rules"] not in rule_sets:
            problems.append(
                (
                    f"models[{index}].rules",
                    f"unknown rule set '{model['rules']}' (known: {', '.join(rule_sets) or 'none'})",
                )
            )
        if model.get("replacement") is not None and model["replacement"] not in ids:
            problems.append(
                (f"models[{index}].replacement", f"'{model['replacement']}' is not a model of this provider")
            )
        if model.get("status") == "deprecated" and not model.get("replacement"):
            problems.append((f"models[{index}].replacement", "a deprecated model must name its replacement"))
        problems += _limit_problems(index, model)
    return problems


def _limit_problems(index: int, model: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Output limits that contradict each other, and peak windows that run backwards."""
    problems: list[tuple[str, str]] = []
    limit, written = model.get("output_limit"), model.get("max_output")
    if isinstance(limit, int) and isinstance(written, int) and limit < written:
        problems.append((f"models[{index}].output_limit", f"{limit} is below max_output {written}"))
    if isinstance(limit, int) and isinstance(written, int) and limit > written and not model.get("max_output_why"):
        problems.append((f"models[{index}].max_output_why", "say why add writes less than the provider's output_limit"))
    peak = (model.get("pricing") or {}).get("peak") or {}
    for number, window in enumerate(peak.get("hours_utc", [])):
        start, _, end = str(window).partition("-")
        if ":" in start and ":" in end and minutes(start) >= minutes(end):
            problems.append((f"models[{index}].pricing.peak.hours_utc[{number}]", f"'{window}' ends before it starts"))
    return problems


# -- building the typed view ----------------------------------------------------------------


def _check_across(providers: Sequence[Provider]) -> None:
    """No two providers share a proxy port or a name; a clash is blamed on the user's file."""
    ports: dict[int, Provider] = {}
    names: dict[str, Provider] = {}
    for provider in providers:
        if provider.proxy_port is not None:
            other = ports.setdefault(provider.proxy_port, provider)
            if other is not provider:
                _clash(provider, other, "proxy.port", f"port {provider.proxy_port} is already used by provider")
        for name in (provider.id, *provider.aliases):
            other = names.setdefault(name, provider)
            if other is not provider:
                _clash(provider, other, "aliases", f"'{name}' already names provider")


def _clash(provider: Provider, other: Provider, path: str, problem: str) -> None:
    culprit, victim = (other, provider) if provider.origin == "bundled" else (provider, other)
    where = "bundled catalog" if culprit.origin == "bundled" else culprit.origin.split(": ", 1)[-1]
    raise CatalogError(where, path, f"{problem} '{victim.id}'")
