"""What ccendpoint wrote into VS Code's file: the ownership record, its hashes, and where it is kept.

ccendpoint owns only the model entries it wrote. It remembers them per file, group and model as
hashes of the fields it manages (``blocks.MANAGED_KEYS``), the newest first, so that ``add`` can
tell an entry it wrote (brought up to date freely) from one the user edited since (kept) or never
wrote (a conflict). A user's own field in an entry is not hashed, so adding one is not an edit.
``requestHeaders`` is ccendpoint's only in a group it wrote for a team gateway (``add --gateway``):
there it is hashed with the rest, and elsewhere it is the user's. The record is kept in
``<state dir>/ownership.json`` and is updated only after the file was written.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.errors import CcendpointError
from ccendpoint.files import NEW_FILE_MODE, state_error, write_atomic
from ccendpoint.vscode.blocks import MANAGED_KEYS
from ccendpoint.vscode.document import canonical

#: How many earlier hashes of an entry are remembered, so a restored older entry is still recognised.
HISTORY = 10
RECORD_VERSION = 1


@dataclass(frozen=True)
class GroupRecord:
    """What ccendpoint wrote into one group: per model id, hashes of the entries, newest first."""

    vendor: str
    name: str
    provider: str
    models: Mapping[str, tuple[str, ...]]
    created: bool = False  # ccendpoint added the group itself, so `remove` may take the group out

    def wrote(self, model_id: str, entry: Any) -> bool:
        return self.written_keys(model_id, entry) is not None

    def written_keys(self, model_id: str, entry: Any) -> frozenset[str] | None:
        """The fields of ``entry`` ccendpoint wrote, when it wrote the entry as it is; else None."""
        hashes = self.models.get(model_id, ())
        wide = keys_of(entry)
        if wide != MANAGED_KEYS and entry_hash(entry, wide) in hashes:
            return wide
        return MANAGED_KEYS if entry_hash(entry) in hashes else None

    def remembers(self, model_id: str) -> bool:
        return bool(self.models.get(model_id))

    def with_entry(self, model_id: str, entry: Any) -> GroupRecord:
        """Remember ``entry`` as ccendpoint renders it (every field in it is ccendpoint's)."""
        digest = entry_hash(entry, keys_of(entry))
        earlier = tuple(h for h in self.models.get(model_id, ()) if h != digest)
        return dataclasses.replace(self, models={**self.models, model_id: (digest, *earlier)[:HISTORY]})

    def without(self, model_ids: Iterable[str]) -> GroupRecord:
        gone = set(model_ids)
        return dataclasses.replace(self, models={k: v for k, v in self.models.items() if k not in gone})


# --- what is hashed -------------------------------------------------------------------------------


#: Fields ccendpoint writes in some groups only: a gateway group's ``requestHeaders``.
SOMETIMES_MANAGED = frozenset({"requestHeaders"})


def keys_of(entry: Any) -> frozenset[str]:
    """The fields ccendpoint manages in ``entry`` if ccendpoint rendered it."""
    if not isinstance(entry, Mapping):
        return MANAGED_KEYS
    return MANAGED_KEYS | (frozenset(entry) & SOMETIMES_MANAGED)


def entry_hash(entry: Any, keys: frozenset[str] = MANAGED_KEYS) -> str:
    """The hash the record keeps: of the fields ccendpoint manages (for an entry it wrote, all of them)."""
    return hashlib.sha256(canonical(managed(entry, keys)).encode("utf-8")).hexdigest()


def managed(entry: Any, keys: frozenset[str] = MANAGED_KEYS) -> Any:
    """The part of a model entry that ccendpoint writes; other values are returned as they are."""
    if not isinstance(entry, Mapping):
        return entry
    return {key: value for key, value in entry.items() if key in keys}


def carried_over(current: Any, desired: Mapping[str, Any], ours: frozenset[str] = MANAGED_KEYS) -> dict[str, Any]:
    """``desired`` plus the fields of ``current`` that are not ccendpoint's (``ours``): the user's own."""
    own = {}
    if isinstance(current, Mapping):
        own = {key: value for key, value in current.items() if key not in ours and key not in desired}
    return {**copy.deepcopy(dict(desired)), **copy.deepcopy(own)}


# --- where the record is kept ---------------------------------------------------------------------


def records_path() -> Path:
    return dirs.state_dir() / "ownership.json"


def _load_all() -> dict[str, Any]:
    path = records_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": RECORD_VERSION, "files": {}}
    except (NotADirectoryError, PermissionError) as exc:
        raise state_error(path, exc) from None
    except (OSError, ValueError):
        raise CcendpointError(
            f"ccendpoint's ownership record {path} cannot be read.",
            hint="Delete it; ccendpoint then treats entries it wrote earlier as conflicts and asks before "
            "replacing them.",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"version": RECORD_VERSION, "files": {}}
    return data


def load_records(key: str) -> list[GroupRecord]:
    """Every group ccendpoint remembers writing to this file (``key``: the file's real path)."""
    groups = _load_all()["files"].get(key, {}).get("groups", [])
    return [record for item in groups if (record := _record_from(item)) is not None]


def load_record(key: str, vendor: str, name: str) -> GroupRecord | None:
    for record in load_records(key):
        if (record.vendor, record.name) == (vendor, name):
            return record
    return None


def _record_from(item: Any) -> GroupRecord | None:
    if not isinstance(item, dict):
        return None
    models = item.get("models")
    if not isinstance(models, dict):
        return None
    clean = {str(k): tuple(str(h) for h in v) for k, v in models.items() if isinstance(v, list)}
    return GroupRecord(
        str(item.get("vendor", "")),
        str(item.get("name", "")),
        str(item.get("provider", "")),
        clean,
        created=item.get("created") is True,
    )


def _record_data(record: GroupRecord) -> Mapping[str, Any]:
    return {
        "vendor": record.vendor,
        "name": record.name,
        "provider": record.provider,
        "models": {k: list(v) for k, v in record.models.items()},
        "created": record.created,
    }


def save_record(key: str, vendor: str, name: str, record: GroupRecord | None) -> None:
    """Remember (or forget, with None) what ccendpoint wrote to one group of one file."""
    if record is not None and (record.vendor, record.name) != (vendor, name):
        raise ValueError(f"the record belongs to group {record.name!r}, not {name!r}")
    data = _load_all()
    entry = data["files"].setdefault(key, {"groups": []})
    groups = [g for g in entry.get("groups", []) if (g.get("vendor"), g.get("name")) != (vendor, name)]
    if record is not None and record.models:
        groups.append(_record_data(record))
    if groups:
        entry["groups"] = groups
    else:
        data["files"].pop(key, None)
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if records_path().exists() and records_path().read_text(encoding="utf-8") == text:
        return
    write_atomic(records_path(), text.encode("utf-8"), NEW_FILE_MODE)
