"""Merge planning: what add and remove change, what they keep, and that the result is valid."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccendpoint.errors import CcendpointError
from ccendpoint.redact import MASK
from ccendpoint.vscode.document import BOM, parse
from ccendpoint.vscode.facts import BUILTIN_MODEL_IDS
from ccendpoint.vscode.ownership import GroupRecord, entry_hash
from ccendpoint.vscode.plan import Plan, decide, plan_add, unified_diff
from ccendpoint.vscode.removal import plan_remove
from ccendpoint.vscode.validate import validate
from vscode_helpers import acme_group, catalog_ids, fixture_text

VENDOR = "customendpoint"


def add(text: str | None, record: GroupRecord | None = None, **kwargs: Any) -> Plan:
    group = kwargs.pop("group", None) or acme_group()
    return plan_add(text, group, record, "acme", **kwargs)


def remove(text: str | None, record: GroupRecord | None, **kwargs: Any) -> Plan:
    return plan_remove(text, VENDOR, "Acme", record, catalog_ids(), **kwargs)


def group_of(text: str, name: str = "Acme") -> dict[str, Any]:
    for group in parse(text).value:
        if group.get("name") == name and group.get("vendor") == VENDOR:
            return dict(group)
    raise AssertionError(f"no group {name}")


def actions(plan: Plan) -> dict[str | None, str]:
    return {c.model: c.action for c in plan.changes}


# --- new file, new group --------------------------------------------------------------------------


def test_no_file_gives_vscodes_own_format() -> None:
    plan = add(None)
    assert plan.changed and not plan.file_exists
    assert plan.new_text == json.dumps([acme_group()], indent="\t")
    assert actions(plan) == {None: "add", "acme-large": "add", "acme-small": "add"}
    assert plan.record is not None and plan.record.created
    assert set(plan.record.models) == {"acme-large", "acme-small"}
    assert "apiKey" not in plan.new_text


def test_empty_file_counts_as_no_groups() -> None:
    plan = add("")
    assert plan.file_exists and plan.changed
    assert parse(plan.new_text).value == [acme_group()]


def test_new_group_is_appended_and_nothing_else_moves() -> None:
    old = fixture_text("commented.jsonc")
    plan = add(old)
    doc = parse(old)
    cut = doc.root.members[-1].end
    assert plan.new_text.startswith(old[:cut])
    assert plan.new_text.endswith(old[cut:])
    new = parse(plan.new_text)
    assert new.value[:-1] == doc.value
    assert new.value[-1] == acme_group()
    assert "// trailing comma after the last group" in plan.new_text
    assert validate(new.value) == []


def test_new_group_keeps_crlf_and_two_space_indent() -> None:
    old = '[\r\n  {\r\n    "name": "Ollama",\r\n    "vendor": "ollama"\r\n  }\r\n]\r\n'
    plan = add(old)
    assert "\n" not in plan.new_text.replace("\r\n", "")
    assert '\r\n  {\r\n    "name": "Acme",\r\n    "vendor": "customendpoint",' in plan.new_text
    assert '\r\n      {\r\n        "id": "acme-large",' in plan.new_text
    assert plan.new_text.endswith("  }\r\n]\r\n")


def test_new_group_in_an_oddly_indented_file() -> None:
    old = fixture_text("odd_indent.json")
    plan = add(old)
    assert '\n   {\n      "name": "Acme",' in plan.new_text
    assert plan.new_text.startswith(old[: old.rindex("}") + 1])


def test_bom_survives() -> None:
    plan = add(BOM + "[]")
    assert plan.new_text.startswith(BOM + "[\n\t{")
    assert remove(plan.new_text, plan.record).new_text == BOM + "[]"


# --- merging into a group that is already there ---------------------------------------------------


def test_merge_keeps_the_users_key_settings_models_and_comments() -> None:
    old = fixture_text("user_acme_group.jsonc")
    plan = add(old, force=True)
    group = group_of(plan.new_text)
    assert group["apiKey"] == "${input:chat.lm.secret.1a2b3c}"
    assert group["settings"] == {"acme-small": {"reasoningEffort": "high"}}
    assert group["models"][0]["id"] == "acme-custom"
    assert "// my own model in the same group" in plan.new_text
    assert "apiType" not in group  # the user's group fields are not touched
    assert [m["id"] for m in group["models"]] == ["acme-custom", "acme-small", "acme-large"]


def test_entry_ccendpoint_did_not_write_is_a_conflict() -> None:
    old = fixture_text("user_acme_group.jsonc")
    plan = add(old)
    assert actions(plan) == {"acme-large": "add", "acme-small": "conflict"}
    assert [c.model for c in plan.conflicts] == ["acme-small"]
    assert group_of(plan.new_text)["models"][1]["name"] == "Acme Small (mine)"
    assert plan.record is not None and "acme-small" not in plan.record.models
    assert not plan.record.created


@pytest.mark.parametrize("how", [{"force": True}, {"confirm": True}])
def test_conflict_is_replaced_when_forced_or_confirmed(how: dict[str, bool]) -> None:
    plan = add(fixture_text("user_acme_group.jsonc"), **how)
    assert actions(plan)["acme-small"] == "replace"
    small = group_of(plan.new_text)["models"][1]
    assert small == acme_group()["models"][1]
    assert plan.record is not None and plan.record.wrote("acme-small", small)


def test_owned_entry_is_updated_in_place() -> None:
    first = add(None)
    second = add(first.new_text, first.record, group=acme_group(port=4200))
    assert actions(second) == {"acme-large": "update", "acme-small": "update"}
    changed = [line for line in unified_diff(first.new_text, second.new_text, "f").splitlines() if line[:1] in "+-"]
    assert changed == [
        "--- a/f",
        "+++ b/f",
        '-\t\t\t\t"url": "http://127.0.0.1:4100/v1/chat/completions",',
        '+\t\t\t\t"url": "http://127.0.0.1:4200/v1/chat/completions",',
        '-\t\t\t\t"url": "http://127.0.0.1:4100/v1/chat/completions",',
        '+\t\t\t\t"url": "http://127.0.0.1:4200/v1/chat/completions",',
    ]


def test_owned_entry_loses_a_key_the_catalog_dropped() -> None:
    old_group = acme_group()
    old_group["models"][0]["requestBody"] = {"x": 1}
    first = add(None, group=old_group)
    second = add(first.new_text, first.record)
    assert actions(second)["acme-large"] == "update"
    assert "requestBody" not in group_of(second.new_text)["models"][0]


def test_users_edit_is_kept_and_reported() -> None:
    first = add(None)
    edited = first.new_text.replace('"name": "Acme Small"', '"name": "Small, my way"')
    second = add(edited, first.record, group=acme_group(port=4200))
    assert actions(second) == {"acme-large": "update", "acme-small": "kept"}
    kept = next(c for c in second.changes if c.model == "acme-small")
    assert kept.detail == "kept your edits to acme-small; use --force to replace them"
    assert group_of(second.new_text)["models"][1]["name"] == "Small, my way"
    assert second.record is not None and second.record.models["acme-small"] == first.record.models["acme-small"]  # type: ignore[union-attr]


def test_users_edit_is_replaced_with_force() -> None:
    first = add(None)
    edited = first.new_text.replace('"name": "Acme Small"', '"name": "Small, my way"')
    second = add(edited, first.record, force=True)
    assert actions(second)["acme-small"] == "replace"
    assert group_of(second.new_text) == acme_group()


HEADERS = {"X-Trace": "on", "X-Moonshot-Key": "${input:chat.lm.secret.h1}"}


def _with_headers(text: str, model_id: str = "acme-small", name: str | None = None) -> str:
    """The file with ``requestHeaders`` (and optionally another name) in one entry, as a user edits it."""
    groups = parse(text).value
    for group in groups:
        for model in group.get("models", []):
            if model.get("id") == model_id:
                model["requestHeaders"] = HEADERS
                if name is not None:
                    model["name"] = name
    return json.dumps(groups, indent="\t")


@pytest.mark.parametrize("how", [{"force": True}, {"confirm": True}])
def test_replacing_a_conflict_keeps_the_users_own_fields(how: dict[str, bool]) -> None:
    old = _with_headers(fixture_text("user_acme_group.jsonc").replace("// my own model in the same group", ""))
    plan = add(old, **how)
    assert actions(plan)["acme-small"] == "replace"
    small = group_of(plan.new_text)["models"][1]
    assert small == {**acme_group()["models"][1], "requestHeaders": HEADERS}
    assert small["maxInputTokens"] == acme_group()["models"][1]["maxInputTokens"]  # managed fields replaced
    assert plan.record is not None and plan.record.wrote("acme-small", small)
    again = add(plan.new_text, plan.record)  # the user's fields are not an edit: nothing to keep or ask
    assert actions(again)["acme-small"] == "unchanged" and not again.changed


def test_replacing_a_users_edit_keeps_the_users_own_fields() -> None:
    first = add(None)
    edited = _with_headers(first.new_text, name="Small, my way")
    kept = add(edited, first.record)
    assert actions(kept)["acme-small"] == "kept"
    forced = add(edited, first.record, force=True)
    small = group_of(forced.new_text)["models"][1]
    assert small["name"] == "Acme Small" and small["requestHeaders"] == HEADERS


def test_updates_keep_the_users_own_fields_and_drop_the_catalogs() -> None:
    old_group = acme_group()
    old_group["models"][1]["requestBody"] = {"x": 1}  # a managed field the catalog no longer sets
    first = add(None, group=old_group)
    with_headers = _with_headers(first.new_text)
    assert actions(add(with_headers, first.record))["acme-small"] == "update"
    updated = add(with_headers, first.record, group=acme_group(port=4200))
    small = group_of(updated.new_text)["models"][1]
    assert "requestBody" not in small and small["requestHeaders"] == HEADERS
    assert small["url"] == "http://127.0.0.1:4200/v1/chat/completions"
    removed = remove(updated.new_text, updated.record)
    assert parse(removed.new_text).value == []


def test_remove_names_the_fields_of_the_users_that_go_with_an_entry() -> None:
    first = add(None)
    with_headers = _with_headers(first.new_text)
    removed = remove(with_headers, first.record)
    assert parse(removed.new_text).value == []
    assert len(removed.warnings) == 1
    assert "acme-small" in removed.warnings[0] and "(requestHeaders)" in removed.warnings[0]
    assert "acme-large" not in removed.warnings[0]
    some = remove(with_headers, first.record, model_ids=["acme-large"])
    assert some.warnings == (), "nothing of the user's goes"


def test_a_forced_remove_says_it_took_the_users_edits_and_entries() -> None:
    first = add(None)
    edited = first.new_text.replace('"name": "Acme Small"', '"name": "Mine"')
    assert remove(edited, first.record).warnings == (), "kept, so nothing to say"
    forced = remove(edited, first.record, force=True)
    assert [w for w in forced.warnings if "--force" in w] == [
        "--force removed your edits to acme-small in 'Acme'; the backup keeps it."
    ]
    unrecorded = remove(first.new_text, None, force=True)
    assert sorted(unrecorded.warnings) == [
        f"--force removed your own entry for {model_id} in 'Acme'; the backup keeps it."
        for model_id in ("acme-large", "acme-small")
    ]


def test_a_forced_add_names_the_users_values_it_replaces() -> None:
    first = add(None)
    edited = _with_headers(first.new_text, name="Small, my way")
    assert add(edited, first.record).warnings == ()
    forced = add(edited, first.record, force=True)
    assert forced.warnings == (
        "Replaced your edits to acme-small in 'Acme' (name); the backup keeps them (`ccendpoint restore`).",
    )
    assert "requestHeaders" not in forced.warnings[0], "carried over, not replaced"


def test_a_managed_field_the_user_adds_is_an_edit() -> None:
    first = add(None)
    edited = first.new_text.replace('"name": "Acme Small",', '"name": "Acme Small",\n"requestBody": {"x": 1},')
    assert actions(add(edited, first.record))["acme-small"] == "kept"


def test_restored_older_entry_is_still_recognised() -> None:
    first = add(None)
    second = add(first.new_text, first.record, group=acme_group(port=4200))
    third = add(first.new_text, second.record, group=acme_group(port=4300))  # an older file came back
    assert actions(third) == {"acme-large": "update", "acme-small": "update"}


def test_second_identical_add_changes_nothing() -> None:
    first = add(fixture_text("commented.jsonc"))
    again = add(first.new_text, first.record)
    assert not again.changed
    assert again.new_text == first.new_text
    assert set(actions(again).values()) == {"unchanged"}


def test_group_without_a_models_list_gets_one() -> None:
    old = '[{"name": "Acme", "vendor": "customendpoint", "apiKey": "${input:chat.lm.secret.1}"}]'
    plan = add(old)
    group = group_of(plan.new_text)
    assert group["apiKey"] == "${input:chat.lm.secret.1}"
    assert group["models"] == acme_group()["models"]


def test_models_that_are_not_a_list_stop_the_plan() -> None:
    with pytest.raises(CcendpointError, match="not a list"):
        add('[{"name": "Acme", "vendor": "customendpoint", "models": {}}]')


def test_two_groups_with_the_same_name_stop_the_plan() -> None:
    group = '{"name": "Acme", "vendor": "customendpoint", "models": []}'
    with pytest.raises(CcendpointError, match="2 customendpoint groups named 'Acme'"):
        add(f"[{group}, {group}]")


def test_same_name_under_another_vendor_is_another_group() -> None:
    old = '[{"name": "Acme", "vendor": "openrouter"}]'
    plan = add(old)
    assert parse(plan.new_text).value == [{"name": "Acme", "vendor": "openrouter"}, acme_group()]


def test_models_written_earlier_but_not_asked_for_stay() -> None:
    first = add(None)
    second = add(first.new_text, first.record, group=acme_group(model_ids=["acme-large"]))
    assert not second.changed
    skipped = [c for c in second.changes if c.action == "skip"]
    assert [c.model for c in skipped] == ["acme-small"]
    assert second.record is not None and "acme-small" in second.record.models


def test_decide_covers_every_case() -> None:
    desired = acme_group()["models"][1]
    other = {**desired, "name": "Other"}
    record = GroupRecord(VENDOR, "Acme", "acme", {"acme-small": (entry_hash(desired),)})
    assert decide(None, desired, None, force=False, confirm=False) == "add"
    assert decide(desired, desired, None, force=False, confirm=False) == "unchanged"
    assert decide(desired, other, record, force=False, confirm=False) == "update"
    assert decide(other, desired, record, force=False, confirm=False) == "kept"
    assert decide(other, desired, record, force=True, confirm=False) == "replace"
    assert decide(other, desired, record, force=False, confirm=True) == "kept"
    assert decide(other, desired, None, force=False, confirm=False) == "conflict"
    assert decide(other, desired, None, force=False, confirm=True) == "replace"
    assert decide({**desired, "vision": 0}, desired, None, force=False, confirm=False) == "conflict"


# --- remove ---------------------------------------------------------------------------------------


def test_remove_after_add_gives_back_the_file() -> None:
    old = fixture_text("commented.jsonc")
    added = add(old)
    removed = remove(added.new_text, added.record)
    assert removed.new_text == old
    assert removed.record is None
    assert actions(removed) == {"acme-large": "remove", "acme-small": "remove", None: "remove"}


def test_remove_takes_only_owned_entries_from_a_users_group() -> None:
    old = fixture_text("user_acme_group.jsonc")
    added = add(old)
    removed = remove(added.new_text, added.record)
    assert removed.new_text == old  # the user's acme-small was never ours
    assert actions(removed) == {"acme-custom": "skip", "acme-small": "skip", "acme-large": "remove"}
    assert removed.record is None


def test_users_emptied_group_is_not_removed() -> None:
    old = '[{"name": "Acme", "vendor": "customendpoint", "apiKey": "${input:chat.lm.secret.9}", "models": []}]'
    added = add(old)
    removed = remove(added.new_text, added.record)
    assert removed.new_text == old
    assert removed.warnings == ()


def test_removing_a_created_group_warns_about_its_key_reference() -> None:
    added = add(None)
    with_key = added.new_text.replace(
        '"vendor": "customendpoint",', '"vendor": "customendpoint",\n\t\t"apiKey": "${input:chat.lm.secret.5}",'
    )
    removed = remove(with_key, added.record)
    assert parse(removed.new_text).value == []
    assert len(removed.warnings) == 1 and "secret storage" in removed.warnings[0]


def test_removing_a_group_names_the_choices_vscode_saved_in_it() -> None:
    """VS Code writes a Thinking Effort pick into the group's ``settings``: remove says it goes."""
    added = add(None)
    with_pick = added.new_text.replace(
        '"vendor": "customendpoint",',
        '"vendor": "customendpoint",\n\t\t"settings": {"acme-large": {"reasoningEffort": "max"}},',
    )
    kept = add(with_pick, added.record, group=acme_group(port=4200))
    assert group_of(kept.new_text)["settings"] == {"acme-large": {"reasoningEffort": "max"}}, "add keeps it"
    removed = remove(kept.new_text, kept.record)
    assert parse(removed.new_text).value == []
    assert len(removed.warnings) == 1 and "acme-large: reasoningEffort max" in removed.warnings[0]
    assert "ccendpoint restore" in removed.warnings[0]


def test_remove_some_models() -> None:
    added = add(None)
    removed = remove(added.new_text, added.record, model_ids=["acme-small", "nope"])
    assert [m["id"] for m in group_of(removed.new_text)["models"]] == ["acme-large"]
    assert actions(removed) == {"acme-small": "remove", "nope": "skip"}
    assert removed.record is not None and set(removed.record.models) == {"acme-large"}


def test_remove_keeps_edited_entries_unless_forced() -> None:
    added = add(None)
    edited = added.new_text.replace('"name": "Acme Small"', '"name": "Mine"')
    kept = remove(edited, added.record)
    assert actions(kept) == {"acme-large": "remove", "acme-small": "kept"}
    assert [m["name"] for m in group_of(kept.new_text)["models"]] == ["Mine"]
    forced = remove(edited, added.record, force=True)
    assert parse(forced.new_text).value == []


def test_remove_without_a_record_needs_force() -> None:
    added = add(None)
    unrecorded = remove(added.new_text, None)
    assert not unrecorded.changed
    assert {c.detail for c in unrecorded.changes} == {"not written by ccendpoint; --force removes it"}
    forced = remove(added.new_text, None, force=True)
    assert parse(forced.new_text).value == []


def test_remove_from_missing_file_or_group_changes_nothing() -> None:
    assert not remove(None, None).changed
    plan = remove("[]", None)
    assert not plan.changed and plan.changes[0].detail == "no such group in the file"


def test_removing_a_renamed_group_names_the_groups_there() -> None:
    added = add(fixture_text("commented.jsonc"))
    renamed = added.new_text.replace('"name": "Acme"', '"name": "Acme (work)"')
    plan = remove(renamed, added.record)
    assert not plan.changed
    [hint] = plan.warnings
    assert '"Acme (work)"' in hint and "--group NAME" in hint and "--force" in hint
    assert '"My Gateway"' in hint and "Ollama" not in hint  # only customendpoint groups
    assert "has no customendpoint group" in remove("[]", None).warnings[0]


def test_internal_error_while_removing_a_group_has_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import ccendpoint.vscode.groups as groups_module

    added = add(None)
    monkeypatch.setattr(groups_module, "same", lambda a, b: False)
    with pytest.raises(CcendpointError) as caught:
        remove(added.new_text, added.record)
    assert "internal error" in caught.value.message and "nothing was written" in caught.value.message
    assert caught.value.hint is not None and "report" in caught.value.hint


# --- validation -----------------------------------------------------------------------------------


def _model(**overrides: Any) -> dict[str, Any]:
    model = {"id": "m", "name": "M", "url": "https://x/v1", "toolCalling": True, "vision": False}
    model.update({"maxInputTokens": 1000, "maxOutputTokens": 100})
    model.update(overrides)
    return {k: v for k, v in model.items() if v is not None}


def _problems(*models: dict[str, Any], **group: Any) -> list[str]:
    doc = [{"name": "G", "vendor": VENDOR, "models": list(models), **group}]
    return [str(p) for p in validate(doc)]


def test_valid_document_has_no_problems() -> None:
    assert _problems(_model(), _model(id="n", contextWindow=5, maxInputTokens=None)) == []
    assert validate(parse(fixture_text("commented.jsonc")).value) == []


@pytest.mark.parametrize(
    ("model", "group", "expected"),
    [
        (_model(url=None), {}, 'group "G" › model "m": missing url'),
        (_model(maxInputTokens=None), {}, 'group "G" › model "m": needs maxInputTokens or contextWindow'),
        (_model(url="ftp://x"), {}, 'group "G" › model "m" › url: must start with http:// or https://'),
        (_model(vision="yes"), {}, 'group "G" › model "m" › vision: must be true or false'),
        (_model(apiType="graphql"), {}, 'group "G" › model "m" › apiType: must be one of'),
        (_model(modelOptions={"top_k": 5}), {}, 'group "G" › model "m" › modelOptions: unknown key(s): top_k'),
        (_model(modelOptions={"temperature": "1"}), {}, "temperature: must be a number or null"),
        (_model(), {"apiType": "soap"}, 'group "G" › apiType: must be one of'),
        (_model(), {"apiKey": ""}, 'group "G" › apiKey: must not be empty'),
        (_model(id="gpt-4.1"), {}, "same id as a model Copilot serves itself"),
    ],
)
def test_each_problem_is_named(model: dict[str, Any], group: dict[str, Any], expected: str) -> None:
    problems = _problems(model, **group)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_duplicates_are_problems() -> None:
    doc = [
        {"name": "G", "vendor": VENDOR, "models": [_model(), _model()]},
        {"name": "G", "vendor": VENDOR, "models": []},
        {"name": "G", "vendor": "openrouter"},
    ]
    problems = [str(p) for p in validate(doc)]
    assert 'group "G": 2 customendpoint groups share this name; VS Code allows one' in problems
    assert 'group "G" › model "m": listed 2 times; VS Code skips the repeats' in problems


def test_other_vendors_are_only_checked_for_vendor_and_name() -> None:
    doc = [{"name": "Mine", "vendor": "ollama", "models": [{"anything": True}], "url": 5}, {"vendor": "x"}]
    assert [str(p) for p in validate(doc)] == ["group #2: missing name"]


def test_problems_never_echo_a_key() -> None:
    doc = [{"name": "G", "vendor": VENDOR, "apiKey": 12345, "models": [_model(requestHeaders={"Authorization": 7})]}]
    text = " ".join(str(p) for p in validate(doc))
    assert "12345" not in text and "7" not in text.replace("m", "")


def test_builtin_ids_are_lower_case_examples() -> None:
    assert "gpt-5.5" in BUILTIN_MODEL_IDS
    assert all(i == i.lower() for i in BUILTIN_MODEL_IDS)


# --- secrets in what is shown ---------------------------------------------------------------------


MOONSHOT_KEY = "sk-Zq8vN2mK4pL7xR1tY6wB3cJ9dF5gH0aS"  # made up, shaped like a real key


def test_diff_masks_every_credential_and_keeps_the_rest() -> None:
    old = json.dumps(
        [
            {
                "name": "G",
                "vendor": "openrouter",
                "apiKey": "sk-live-123456789",
                "requestHeaders": {
                    "X-Moonshot-Key": MOONSHOT_KEY,
                    "Authorization": "Bearer abc",
                    "X-Api-Key": "k-9",
                    "X-Trace": "visible",
                },
                "ref": {"apiKey": "${input:chat.lm.secret.-1}"},
                "maxInputTokens": 5,
            }
        ],
        indent="\t",
    )
    diff = unified_diff("", old, "f.json")  # every line is in the diff
    for secret in ("sk-live-123456789", MOONSHOT_KEY, "Bearer abc", '"k-9"', "chat.lm.secret.-1"):
        assert secret not in diff, secret
    assert f'+\t\t\t"X-Moonshot-Key": "{MASK}",' in diff
    assert f'+\t\t\t"Authorization": "Bearer {MASK}",' in diff
    assert '"X-Trace": "visible"' in diff and '"maxInputTokens": 5' in diff and '"name": "G"' in diff


def test_diff_scrubs_a_key_under_a_harmless_name() -> None:
    old = '[{"name": "G", "vendor": "x", "note": "' + MOONSHOT_KEY + '"}]'
    diff = unified_diff(old, old.replace('"x"', '"y"'), "f.json")
    assert MOONSHOT_KEY not in diff and MASK in diff


def test_diff_masks_secrets_on_both_sides() -> None:
    old = '[{"name": "G", "vendor": "openrouter", "apiKey": "sk-or-secret"}]'
    diff = unified_diff(old, old.replace("openrouter", "xai"), "f.json")
    assert "sk-or-secret" not in diff and MASK in diff


# --- properties over generated documents ----------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_MODEL_ID = st.from_regex(r"[a-z][a-z0-9.-]{0,8}", fullmatch=True).filter(
    lambda i: i not in BUILTIN_MODEL_IDS and i not in catalog_ids()
)
_MODEL = st.fixed_dictionaries(
    {
        "id": _MODEL_ID,
        "name": _TEXT.filter(bool),
        "url": st.sampled_from(["http://127.0.0.1:8080/v1", "https://api.example.test/v1/chat/completions"]),
        "toolCalling": st.booleans(),
        "vision": st.booleans(),
        "maxInputTokens": st.integers(1, 10**6),
        "maxOutputTokens": st.integers(1, 10**5),
    },
    optional={"thinking": st.booleans(), "x-note": _JSON},
)
_MODELS = st.lists(_MODEL, max_size=3, unique_by=lambda m: m["id"])
_CUSTOM = st.fixed_dictionaries(
    {"name": _TEXT.filter(bool), "vendor": st.just(VENDOR), "models": _MODELS},
    optional={
        "apiKey": st.just("${input:chat.lm.secret.-60b744f3}"),
        "apiType": st.sampled_from(["chat-completions", "responses", "messages"]),
        "settings": st.dictionaries(_MODEL_ID, st.just({"reasoningEffort": "low"}), max_size=2),
        "x-extra": _JSON,
    },
)
_OTHER = st.fixed_dictionaries(
    {"name": _TEXT.filter(bool), "vendor": st.sampled_from(["ollama", "openrouter", "anthropic", "customoai"])},
    optional={"url": _JSON, "models": _JSON, "apiKey": st.just("${input:chat.lm.secret.7}")},
)
_GROUPS = st.lists(_CUSTOM | _OTHER, max_size=4, unique_by=lambda g: (g["vendor"], g["name"])).map(
    lambda groups: [g for g in groups if (g["vendor"], g["name"]) != (VENDOR, "Acme")]
)
_USER_ACME = st.fixed_dictionaries(
    {"name": st.just("Acme"), "vendor": st.just(VENDOR), "models": _MODELS},
    optional={"apiKey": st.just("${input:chat.lm.secret.1}"), "settings": st.just({"x": {}})},
)


class _Style:
    """Random but valid JSONC formatting: indentation, line ends, comments, trailing commas."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.indent = rnd.choice(["\t", "  ", "    ", "   "])
        self.newline = rnd.choice(["\n", "\r\n"])
        self.comments = rnd.random() < 0.6
        self.trailing = rnd.random() < 0.4

    def comment(self, multiline: bool) -> str:
        if not self.comments or self.rnd.random() < 0.6:
            return ""
        if multiline and self.rnd.random() < 0.5:
            return " // note: a, b ] }" + self.newline
        return " /* c, ] */ "

    def render(self, value: Any, level: int = 0) -> str:
        if isinstance(value, dict):
            items = [
                json.dumps(k, ensure_ascii=self.rnd.random() < 0.3) + ": " + self.render(v, level + 1)
                for k, v in value.items()
            ]
            return self._container("{", "}", items, level)
        if isinstance(value, list):
            return self._container("[", "]", [self.render(v, level + 1) for v in value], level)
        return json.dumps(value, ensure_ascii=self.rnd.random() < 0.3)

    def _container(self, opener: str, closer: str, items: list[str], level: int) -> str:
        if not items:
            return opener + closer
        multiline = self.rnd.random() < 0.7
        if not multiline:
            return opener + ", ".join(items) + ("," if self.trailing else "") + closer
        inner = self.newline + self.indent * (level + 1)
        body = ""
        for position, item in enumerate(items):
            body += inner + self.comment(True).replace(self.newline, inner) + item
            body += "," if position < len(items) - 1 or self.trailing else ""
            body += self.comment(False)
        return opener + body + self.newline + self.indent * level + closer


@st.composite
def documents(draw: st.DrawFn, with_acme: bool = False) -> str:
    groups = draw(_GROUPS)
    if with_acme:
        groups.insert(draw(st.integers(0, len(groups))), draw(_USER_ACME))
    style = _Style(draw(st.randoms(use_true_random=False)))
    text = style.render(groups)
    if draw(st.booleans()):
        text = "// chat models" + style.newline + text
    if draw(st.booleans()):
        text += style.newline
    return (BOM if draw(st.booleans()) else "") + text


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _covered_by_one_insertion(old: str, new: str) -> bool:
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    return new[len(new) - (len(old) - prefix) :] == old[prefix:] if len(old) > prefix else True


@PROPERTY
@given(documents())
def test_add_only_inserts_text(old: str) -> None:
    plan = add(old)
    assert _covered_by_one_insertion(old, plan.new_text)
    assert parse(plan.new_text).value == [*parse(old).value, acme_group()]


@PROPERTY
@given(documents(with_acme=True))
def test_add_keeps_every_byte_outside_the_group(old: str) -> None:
    doc = parse(old)
    member = next(
        m for m in doc.root.members if m.value.value.get("name") == "Acme" and m.value.value["vendor"] == VENDOR
    )
    head = (BOM if doc.bom else "") + doc.text[: member.start]
    tail = doc.text[member.end :]
    plan = add(old)
    assert plan.new_text.startswith(head) and plan.new_text.endswith(tail)
    group = group_of(plan.new_text)
    assert {k: v for k, v in group.items() if k != "models"} == {
        k: v for k, v in member.value.value.items() if k != "models"
    }
    assert group["models"][: len(member.value.value["models"])] == member.value.value["models"]


@PROPERTY
@given(documents(with_acme=True) | documents())
def test_add_twice_is_add_once(old: str) -> None:
    once = add(old)
    twice = add(once.new_text, once.record)
    assert not twice.changed
    assert twice.new_text == once.new_text


@PROPERTY
@given(documents(with_acme=True) | documents())
def test_remove_after_add_gives_back_the_original(old: str) -> None:
    added = add(old)
    removed = remove(added.new_text, added.record)
    assert parse(removed.new_text).value == parse(old).value
    assert removed.new_text == old


@PROPERTY
@given(documents(with_acme=True) | documents(), st.booleans())
def test_result_always_validates(old: str, forced: bool) -> None:
    plan = add(old, force=forced)
    assert validate(parse(plan.new_text).value) == []
