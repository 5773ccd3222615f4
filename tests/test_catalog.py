"""The bundled catalog validates, and broken or overriding user files behave as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from catalog_helpers import FOLDER, ORBIT_FILE
from ccendpoint import dirs
from ccendpoint.catalog import load_catalog
from ccendpoint.catalog.loader import bundled_sources, schema_problems, semantic_problems
from ccendpoint.errors import CatalogError
from ccendpoint.rules.actions import ACTIONS
from ccendpoint.rules.conditions import CONDITIONS

BUNDLED = {source.label: yaml.safe_load(source.data) for source in bundled_sources()}
ORBIT = yaml.safe_load(ORBIT_FILE.read_text("utf-8"))  # a fixture provider: overlay errors do not need a real one


@pytest.mark.parametrize("label", sorted(BUNDLED))
def test_every_bundled_file_validates(label: str) -> None:
    doc = BUNDLED[label]
    assert list(schema_problems(doc)) == []
    assert semantic_problems(doc) == []
    assert label == f"{doc['id']}.yaml", "file name and provider id must agree"


def test_provider_names_never_clash(tmp_path: Path) -> None:
    catalog = load_catalog()
    names = [name for p in catalog.providers for name in (p.id, *p.aliases)]
    assert len(names) == len(set(names))
    clash = tmp_path / "clash.yaml"
    clash.write_text("id: orbit\nextends: true\naliases: [clockwork]\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog([FOLDER, clash])
    assert str(caught.value).startswith(f"{clash}: aliases: 'clockwork' already names provider 'clockwork'")


def test_each_proxied_provider_has_its_own_port() -> None:
    catalog = load_catalog()
    ports = [p.proxy_port for p in catalog.providers if p.proxy_mode != "direct"]
    assert None not in ports
    all_ports = [p.proxy_port for p in catalog.providers if p.proxy_port is not None]
    assert len(all_ports) == len(set(all_ports))
    # these ports are in users' chatLanguageModels.json: moving one breaks every file add wrote
    assert {p.id: p.proxy_port for p in catalog.providers if p.id in ("kimi", "qwen", "mimo")} == {
        "kimi": 3457,
        "qwen": 3458,
        "mimo": 3459,
    }


def test_every_rule_uses_known_conditions_and_actions() -> None:
    for label, doc in BUNDLED.items():
        for set_name, rule_set in doc.get("rule_sets", {}).items():
            for index, rule in enumerate(rule_set["rules"]):
                where = f"{label} {set_name}[{index}]"
                assert set(rule.get("when", {})) <= set(CONDITIONS), where
                assert set(rule) - {"when", "why"} <= set(ACTIONS), where
                assert set(rule) & set(ACTIONS), where


def test_every_model_resolves_its_rule_set_and_replacement() -> None:
    for provider in load_catalog().providers:
        for model in provider.models:
            assert model.rules.name in provider.rule_sets, (provider.id, model.id)
            if model.deprecated:
                assert provider.model(model.replacement or "") is not None, (provider.id, model.id)
                assert not provider.model(model.replacement or "").deprecated  # type: ignore[union-attr]


def test_required_coverage_from_the_seed_is_present() -> None:
    catalog = load_catalog()
    expected = {
        "kimi": ["kimi-k2.6", "kimi-k2.7-code", "kimi-k3"],
        "mimo": ["mimo-v2.5-pro", "mimo-v2.5", "mimo-v2-flash", "mimo-v2.6-pro", "mimo-v2.6-flash"],
        "qwen": ["qwen3.6-plus", "qwen3.7-plus", "qwen3.7-max", "qwen3.8-max"],
        "glm": ["glm-5.1", "glm-5v-turbo", "glm-5.2", "glm-5.3", "glm-5.3-flash"],
        "minimax": ["MiniMax-M3"],
        "deepseek": ["deepseek-v4-flash", "deepseek-v4-pro"],
    }
    for provider_id, model_ids in expected.items():
        provider = catalog.provider(provider_id)
        assert provider is not None
        for model_id in model_ids:
            assert provider.model(model_id) is not None, (provider_id, model_id)
    nemotron = catalog.provider("nemotron")
    assert nemotron is not None and len(nemotron.current_models()) == 3
    assert catalog.provider("qwen").model("qwen3.6-plus").deprecated  # type: ignore[union-attr]
    kimi = catalog.provider("kimi")
    assert kimi is not None and kimi.proxy_mode == "required"
    assert {e.url for e in kimi.endpoints.values()} >= {
        "https://api.moonshot.ai/v1/chat/completions",
        "https://api.moonshot.cn/v1/chat/completions",
    }


def test_aliases_find_providers() -> None:
    catalog = load_catalog([FOLDER])
    assert catalog.provider("orbital").id == "orbit"  # type: ignore[union-attr]
    assert catalog.provider("ORBITAL").id == "orbit"  # type: ignore[union-attr]
    assert catalog.provider("Clockwork").id == "clockwork"  # type: ignore[union-attr]
    assert catalog.provider("nope") is None


# -- user overlays --------------------------------------------------------------------------

#: a user file that extends the bundled Kimi: a new limit for its first model, and one more model
KIMI = BUNDLED["kimi.yaml"]
FIRST = KIMI["models"][0]
KIMI_EXTENSION = yaml.safe_dump(
    {
        "id": "kimi",
        "extends": True,
        "models": [
            {"id": FIRST["id"], "max_output": 4321},
            {
                "id": "kimi-overlay-test",
                "name": "Kimi Overlay Test",
                "vision": True,
                "tool_calling": True,
                "thinking": "hybrid",
                "rules": next(iter(KIMI["rule_sets"])),
                "facts_date": "2026-06-24",
            },
        ],
    },
    sort_keys=False,
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_user_folder_overlay_extends_a_bundled_provider() -> None:
    _write(dirs.config_dir() / "catalog" / "kimi.yaml", KIMI_EXTENSION)
    kimi = load_catalog().provider("kimi")
    assert kimi is not None
    assert kimi.origin.startswith("user (extends bundled)")
    first = kimi.model(FIRST["id"])
    assert first is not None and FIRST.get("max_output") != 4321
    assert first.max_output == 4321
    assert first.context == FIRST.get("context")  # kept from the bundled file
    assert first.name == FIRST["name"]
    # every bundled model is kept, in order, and the new one comes last
    assert [m.id for m in kimi.models] == [m["id"] for m in KIMI["models"]] + ["kimi-overlay-test"]


def test_cli_path_overlay_replaces_a_bundled_provider(tmp_path: Path) -> None:
    doc = dict(BUNDLED["minimax.yaml"])
    doc["group_name"] = "My MiniMax"
    path = _write(tmp_path / "mm.yaml", yaml.safe_dump(doc))
    minimax = load_catalog([path]).provider("minimax")
    assert minimax is not None
    assert minimax.group_name == "My MiniMax"
    assert minimax.origin == f"user (replaces bundled): {path}"


def test_env_var_overlay_adds_a_new_provider() -> None:
    catalog = load_catalog(environ={"CCENDPOINT_CATALOG": str(FOLDER)})
    orbit = catalog.provider("orbit")
    assert orbit is not None and orbit.origin == f"user (new): {ORBIT_FILE}"
    assert catalog.provider("kimi") is not None  # added to the bundled catalog, not instead of it


def test_cli_path_wins_over_env_var(tmp_path: Path) -> None:
    base = dict(BUNDLED["glm.yaml"])
    env_file = _write(tmp_path / "env" / "glm.yaml", yaml.safe_dump({**base, "group_name": "From env"}))
    cli_file = _write(tmp_path / "cli" / "glm.yaml", yaml.safe_dump({**base, "group_name": "From cli"}))
    glm = load_catalog([cli_file], environ={"CCENDPOINT_CATALOG": str(env_file)}).provider("glm")
    assert glm is not None and glm.group_name == "From cli"


def test_broken_overlay_names_the_file_and_the_path(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(ORBIT))
    doc["models"][2]["max_output"] = "lots"
    path = _write(tmp_path / "orbit.yaml", yaml.safe_dump(doc))
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert str(caught.value).startswith(f"{path}: models[2].max_output: must be an integer")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["models"][0].pop("name"), "models[0].name: is required"),
        (lambda d: d["models"][0].update(colour="blue"), "models[0]: unknown key 'colour'"),
        (
            lambda d: d["models"][0].update(thinking="sometimes"),
            "models[0].thinking: must be one of: none, hybrid, always",
        ),
        (lambda d: d["endpoints"]["global"].update(url="ftp://x"), "endpoints.global.url: must be an http(s) URL"),
        (lambda d: d["models"][0].update(rules="nope"), "models[0].rules: unknown rule set 'nope'"),
        (
            lambda d: d["rule_sets"]["fixed"]["rules"].append({"why": "x"}),
            "rule_sets.fixed.rules[2]: a rule needs at least",
        ),
        (lambda d: d["models"][0].update(facts_date="June"), "models[0].facts_date: must be a date written YYYY-MM-DD"),
        (lambda d: d.update(default_region="mars"), "default_region: 'mars' is not one of the endpoints"),
        (
            lambda d: d["models"].append(json.loads(json.dumps(d["models"][0]))),
            f"models[{len(ORBIT['models'])}].id: duplicate model id 'orbit-pro'",
        ),
    ],
)
def test_overlay_errors_are_precise(tmp_path: Path, change: object, expected: str) -> None:
    doc = json.loads(json.dumps(ORBIT))
    change(doc)  # type: ignore[operator]
    path = _write(tmp_path / "orbit.yaml", yaml.safe_dump(doc))
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.yaml", "id: kimi\nmodels: [\n  {id: a,\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert f"{path}: line " in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_overlay_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(CatalogError, match="must be a mapping"):
        load_catalog([path])


def test_missing_catalog_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no such file or folder"):
        load_catalog([tmp_path / "missing.yaml"])


def test_extending_an_unknown_provider_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.yaml", "id: nobody\nextends: true\n")
    with pytest.raises(CatalogError, match="extends unknown provider 'nobody'"):
        load_catalog([path])


def test_incomplete_new_model_in_an_extension_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.yaml", "id: kimi\nextends: true\nmodels:\n  - id: kimi-k9\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert "merged with the bundled provider" in str(caught.value)
    assert f"models[{len(BUNDLED['kimi.yaml']['models'])}].name: is required" in str(caught.value)


def test_port_clash_between_providers_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "clash.yaml", "id: orbit\nextends: true\nproxy: {mode: required, port: 4200}\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog([FOLDER, path])  # 4200 is clockwork's
    assert str(caught.value).startswith(f"{path}: proxy.port: port 4200 is already used by provider 'clockwork'")


def test_validation_is_remembered_and_redone_when_a_file_changes(tmp_path: Path) -> None:
    load_catalog()
    stamps_file = dirs.cache_dir() / "catalog-validated.json"
    first = set(json.loads(stamps_file.read_text()))
    assert len(first) >= len(BUNDLED)
    path = _write(tmp_path / "kimi.yaml", KIMI_EXTENSION)
    load_catalog([path])
    second = set(json.loads(stamps_file.read_text()))
    assert second > first
    _write(path, KIMI_EXTENSION.replace("4321", "'many'"))
    with pytest.raises(CatalogError, match="max_output: must be an integer"):
        load_catalog([path])


def test_a_tampered_stamp_file_does_not_break_loading() -> None:
    stamps_file = dirs.cache_dir() / "catalog-validated.json"
    stamps_file.parent.mkdir(parents=True, exist_ok=True)
    stamps_file.write_text("{not json")
    assert load_catalog().provider("kimi") is not None
