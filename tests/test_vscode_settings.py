"""VS Code's utility-model settings: which model, which settings, and an edit that keeps the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Provider
from ccendpoint.vscode.document import DocumentError
from ccendpoint.vscode.settings import (
    banner_shows,
    choose_utility_model,
    model_reference,
    parse_settings,
    utility_changes,
    utility_settings_edit,
)

BOTH = {"chat.utilityModel": "customendpoint/bolt-mini", "chat.utilitySmallModel": "customendpoint/bolt-mini"}
BOLT = """\
id: bolt
name: Bolt AI
group_name: Bolt
endpoints: {global: {url: "https://api.bolt.test/v1/chat/completions"}}
default_region: global
proxy: {mode: direct, default_rules: none}
rule_sets: {none: {summary: Nothing., rules: []}}
models:
  - {id: bolt-max, name: Bolt Max, vision: true, tool_calling: true, thinking: hybrid, rules: none,
     facts_date: "2026-11-01", pricing: {input: 3, output: 15, currency: USD, date: "2026-11-01"}}
  - {id: bolt-think, name: Bolt Think, vision: false, tool_calling: true, thinking: always, rules: none,
     facts_date: "2026-11-01", pricing: {input: 0.1, output: 0.4, currency: USD, date: "2026-11-01"}}
  - {id: bolt-mini, name: Bolt Mini, vision: false, tool_calling: true, thinking: none, rules: none,
     facts_date: "2026-11-01", pricing: {input: 0.1, output: 0.4, currency: USD, date: "2026-11-01"}}
  - {id: bolt-embed, name: Bolt Embed, vision: false, tool_calling: false, thinking: none, rules: none,
     facts_date: "2026-11-01", pricing: {input: 0.01, output: 0.01, currency: USD, date: "2026-11-01"}}
  - {id: bolt-new, name: Bolt New, vision: false, tool_calling: true, thinking: none, rules: none,
     facts_date: "2026-11-01"}
"""


@pytest.fixture
def bolt(tmp_path: Path) -> Provider:
    path = tmp_path / "bolt.yaml"
    path.write_text(BOLT)
    provider = load_catalog([path], environ={}).provider("bolt")
    assert provider is not None
    return provider


def test_the_cheapest_tool_model_that_does_not_always_think(bolt: Provider) -> None:
    chosen = choose_utility_model(bolt)
    assert chosen is not None and chosen.id == "bolt-mini"  # bolt-think costs the same but always thinks
    # only among the models written to the group
    only = choose_utility_model(bolt, ["bolt-max", "bolt-new"])
    assert only is not None and only.id == "bolt-max"  # a model without a price comes last
    assert choose_utility_model(bolt, ["bolt-embed"]) is None  # no tool calling


def test_the_reference_is_vendor_and_model_id_without_the_group() -> None:
    assert model_reference("kimi-k2.6") == "customendpoint/kimi-k2.6"


@pytest.mark.parametrize(
    ("settings", "shows"),
    [
        ({}, True),
        ({"chat.utilityModel": "customendpoint/x"}, True),
        ({"chat.utilitySmallModel": "customendpoint/x"}, True),
        (BOTH, False),
        ({"chat.byokUtilityModelDefault": "mainAgent"}, False),
        ({"chat.byokUtilityModelDefault": "copilot"}, True),
        ({"chat.utilityModel": "", "chat.utilitySmallModel": "customendpoint/x"}, True),
    ],
)
def test_when_vscode_asks_for_utility_models(settings: dict[str, str], shows: bool) -> None:
    assert banner_shows(settings) is shows


def test_only_empty_settings_are_taken_unless_replacing() -> None:
    reference = "customendpoint/bolt-mini"
    assert utility_changes({}, reference) == (BOTH, {})
    mine = {"chat.utilityModel": "copilot/gpt-5-mini", "chat.utilitySmallModel": ""}
    assert utility_changes(mine, reference) == (
        {"chat.utilitySmallModel": reference},
        {"chat.utilityModel": "copilot/gpt-5-mini"},
    )
    assert utility_changes(mine, reference, replace=True) == (BOTH, {})
    assert utility_changes(BOTH, reference) == ({}, {})


def test_a_new_file_is_written_as_vscode_writes_one() -> None:
    assert utility_settings_edit(None, BOTH) == (
        '{\n    "chat.utilityModel": "customendpoint/bolt-mini",\n'
        '    "chat.utilitySmallModel": "customendpoint/bolt-mini"\n}\n'
    )
    assert utility_settings_edit("   \n", BOTH) == utility_settings_edit("", BOTH)


def test_every_other_byte_stays() -> None:
    text = (
        "\ufeff{\r\n"
        "\t// fonts\r\n"
        '\t"editor.fontSize": 13, /* mine */\r\n'
        '\t"chat.utilityModel": "copilot/gpt-5-mini",\r\n'
        '\t"files.exclude": {"**/.git": true},\r\n'
        "}\r\n"
    )
    new = utility_settings_edit(text, BOTH)
    assert new == (
        "\ufeff{\r\n"
        "\t// fonts\r\n"
        '\t"editor.fontSize": 13, /* mine */\r\n'
        '\t"chat.utilityModel": "customendpoint/bolt-mini",\r\n'
        '\t"files.exclude": {"**/.git": true},\r\n'
        '\t"chat.utilitySmallModel": "customendpoint/bolt-mini",\r\n'
        "}\r\n"
    )
    assert utility_settings_edit(new, BOTH) == new


def test_two_space_files_keep_their_indent() -> None:
    text = '{\n  "a": 1\n}\n'
    assert (
        utility_settings_edit(text, {"chat.utilityModel": "x/y"}) == '{\n  "a": 1,\n  "chat.utilityModel": "x/y"\n}\n'
    )


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 1,, }', '"just a string"'])
def test_text_that_is_not_a_settings_object_is_refused(text: str) -> None:
    with pytest.raises(DocumentError):
        utility_settings_edit(text, BOTH)


def test_an_empty_object_on_one_line() -> None:
    new = utility_settings_edit("{}", {"chat.utilityModel": "x/y"})
    assert parse_settings(new).root.value == {"chat.utilityModel": "x/y"}
    assert new == '{\n    "chat.utilityModel": "x/y"\n}'
