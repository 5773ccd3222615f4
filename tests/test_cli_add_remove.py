"""``add``, ``remove``, ``backups`` and ``restore`` end to end, on a temporary home folder."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccendpoint.cli import app
from ccendpoint.commands import common, options
from ccendpoint.redact import MASK
from ccendpoint.vscode.document import parse
from vscode_helpers import PROVIDER_FILE, acme_group, fixture_text

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine where VS Code has never run: no config folder at all."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("VSCODE_PORTABLE", "VSCODE_APPDATA", "CCENDPOINT_CATALOG"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def models_file(home: Path) -> Path:
    return home / ".config" / "Code" / "User" / "chatLanguageModels.json"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--catalog", str(PROVIDER_FILE), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def backups_of(home: Path) -> list[Path]:
    return sorted((home / ".local" / "state" / "ccendpoint" / "backups").glob("*/*.json"))


def groups(path: Path) -> list[dict[str, Any]]:
    return list(parse(path.read_text("utf-8")).value)


def existing(models_file: Path, text: str) -> str:
    models_file.parent.mkdir(parents=True, exist_ok=True)
    models_file.write_bytes(text.encode("utf-8"))
    return text


# --- add ------------------------------------------------------------------------------------------


def test_fresh_machine(home: Path, models_file: Path) -> None:
    assert not (home / ".config").exists()
    code, out, err = run("add", "acme")
    assert code == 0, err
    assert models_file.read_text() == json.dumps([acme_group()], indent="\t")
    assert stat.S_IMODE(models_file.stat().st_mode) == 0o600
    assert "+ acme-large: new" in out
    assert "Wrote " in out and str(models_file) in out.replace("\n", "")
    assert 'Chat: Manage Language Models → right-click the "Acme" group → Update API Key' in out
    assert f"ccendpoint --catalog {PROVIDER_FILE} proxy acme" in " ".join(out.split())
    assert "Developer: Reload Window" in out
    assert backups_of(home) == []  # nothing existed to back up
    assert "apiKey" not in models_file.read_text()


def test_second_identical_add_writes_nothing(home: Path, models_file: Path) -> None:
    existing(models_file, "[]")
    assert run("add", "acme")[0] == 0
    written = models_file.read_bytes()
    mtime = models_file.stat().st_mtime_ns
    count = len(backups_of(home))
    code, out, _ = run("add", "acme")
    assert code == 0
    assert "Already up to date; nothing was written." in out
    assert models_file.read_bytes() == written and models_file.stat().st_mtime_ns == mtime
    assert len(backups_of(home)) == count == 1


def test_existing_file_keeps_comments_and_other_groups(home: Path, models_file: Path) -> None:
    original = existing(models_file, fixture_text("commented.jsonc"))
    code, out, err = run("add", "acme", "--models", "acme-small")
    assert code == 0, err
    text = models_file.read_text()
    cut = original.rindex("}", 0, original.rindex("// trailing")) + 1
    assert text.startswith(original[:cut]) and text.endswith(original[cut:])
    assert [g["name"] for g in groups(models_file)] == ["Ollama", "My Gateway", "OpenRouter", "Acme"]
    assert [m["id"] for m in groups(models_file)[-1]["models"]] == ["acme-small"]
    [backup] = backups_of(home)
    assert backup.read_text() == original
    assert "+++ b/chatLanguageModels.json" in out


def test_dry_run_writes_nothing(home: Path, models_file: Path) -> None:
    original = existing(models_file, fixture_text("commented.jsonc"))
    code, out, _ = run("add", "acme", "--dry-run")
    assert code == 0
    assert "Dry run: nothing was written." in out
    assert any(line.startswith("+") and line.strip("+ ") == '"name": "Acme",' for line in out.splitlines())
    assert models_file.read_text() == original
    assert backups_of(home) == []
    assert not (home / ".local" / "state" / "ccendpoint" / "ownership.json").exists()


def test_json_plan(models_file: Path) -> None:
    existing(models_file, "[]")
    code, out, _ = run("add", "acme", "--json", "--dry-run")
    assert code == 0
    data = json.loads(out)
    assert data["dry_run"] is True and data["written"] is False and data["changed"] is True
    assert data["group"] == "Acme" and data["mode"] == "proxy"
    assert {(c["model"], c["action"]) for c in data["changes"]} == {
        (None, "add"),
        ("acme-large", "add"),
        ("acme-small", "add"),
    }
    assert data["diff"].startswith("--- a/chatLanguageModels.json")
    assert models_file.read_text() == "[]"


def test_json_after_writing_names_the_backup_and_next_steps(models_file: Path) -> None:
    existing(models_file, "[]")
    code, out, _ = run("add", "acme", "--json")
    data = json.loads(out)
    assert code == 0 and data["written"] is True
    assert data["backup"].endswith(".json")
    assert any(f"ccendpoint --catalog {PROVIDER_FILE} proxy acme" in step for step in data["next_steps"])


def test_unparseable_file_is_left_alone(home: Path, models_file: Path) -> None:
    original = existing(models_file, fixture_text("bad_syntax.json"))
    code, _, err = run("add", "acme")
    assert code == 1
    assert f"{models_file}:5:5: expected ',' or '}}'" in err.replace("\n", "")
    assert models_file.read_text() == original
    assert backups_of(home) == []


def test_top_level_object_is_refused(models_file: Path) -> None:
    original = existing(models_file, fixture_text("top_object.json"))
    code, _, err = run("add", "acme")
    assert code == 1 and "top level is an object" in err
    assert models_file.read_text() == original


def test_read_only_file(home: Path, models_file: Path) -> None:
    original = existing(models_file, "[]")
    models_file.chmod(0o444)
    code, _, err = run("add", "acme")
    assert code == 1
    assert "read-only" in err and "chmod u+w" in err
    assert models_file.read_text() == original
    assert backups_of(home) == []


def test_symlinked_file(tmp_path: Path, models_file: Path) -> None:
    real = tmp_path / "dotfiles" / "vscode-models.json"
    real.parent.mkdir()
    real.write_text("[]")
    models_file.parent.mkdir(parents=True)
    models_file.symlink_to(real)
    code, out, err = run("add", "acme")
    assert code == 0, err
    assert models_file.is_symlink()
    assert groups(real) == [acme_group()]
    assert f"→ {real}" in out.replace("\n", "")


def test_crlf_and_bom_are_kept(models_file: Path) -> None:
    original = '\ufeff[\r\n  {\r\n    "name": "Ollama",\r\n    "vendor": "ollama"\r\n  }\r\n]\r\n'
    existing(models_file, original)
    assert run("add", "acme")[0] == 0
    raw = models_file.read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf[\r\n  {\r\n    "name": "Ollama"')
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert run("remove", "acme")[0] == 0
    assert models_file.read_bytes() == original.encode()


def test_conflict_needs_force_when_not_interactive(home: Path, models_file: Path) -> None:
    original = existing(models_file, fixture_text("user_acme_group.jsonc"))
    code, out, err = run("add", "acme")
    assert code == 1
    assert "? acme-small: conflict" in out
    assert "--force" in err and "nothing was written" in err
    assert models_file.read_text() == original
    assert backups_of(home) == []


@pytest.mark.parametrize("flag", ["--force", "--yes"])
def test_conflict_replaced_with_force_or_yes(models_file: Path, flag: str) -> None:
    existing(models_file, fixture_text("user_acme_group.jsonc"))
    code, _, err = run("add", "acme", flag)
    assert code == 0, err
    [group] = groups(models_file)
    assert [m["id"] for m in group["models"]] == ["acme-custom", "acme-small", "acme-large"]
    assert group["models"][1] == acme_group()["models"][1]
    assert group["apiKey"] == "${input:chat.lm.secret.1a2b3c}"


@pytest.mark.parametrize(("answer", "replaced"), [("y\n", True), ("n\n", False)])
def test_conflict_question_on_a_terminal(
    models_file: Path, monkeypatch: pytest.MonkeyPatch, answer: str, replaced: bool
) -> None:
    original = existing(models_file, fixture_text("user_acme_group.jsonc"))
    monkeypatch.setattr(common, "interactive", lambda: True)
    code, _, err = run("add", "acme", input=answer)
    assert "Replace acme-small with the catalog's entries?" in err
    if replaced:
        assert code == 0
        assert groups(models_file)[0]["models"][1]["name"] == "Acme Small"
    else:
        assert code == 1
        assert models_file.read_text() == original


def test_user_edit_is_kept_on_the_next_add(models_file: Path) -> None:
    assert run("add", "acme")[0] == 0
    models_file.write_text(models_file.read_text().replace('"name": "Acme Small"', '"name": "Tuned"'))
    code, out, _ = run("add", "acme", "--port", "4200")
    assert code == 0
    assert "kept your edits to acme-small; use --force to replace them" in out
    models = groups(models_file)[0]["models"]
    assert models[0]["url"] == "http://127.0.0.1:4200/v1/chat/completions"
    assert models[1]["name"] == "Tuned" and models[1]["url"].endswith(":4100/v1/chat/completions")


def test_direct_mode_for_a_proxy_provider_needs_force(models_file: Path) -> None:
    code, _, err = run("add", "acme", "--mode", "direct")
    assert code == 2 and "--force" in err
    assert not models_file.exists()
    code, out, err = run("add", "acme", "--mode", "direct", "--region", "cn", "--force")
    assert code == 0
    assert "Direct mode for Acme" in err
    assert groups(models_file)[0]["models"][0]["url"] == "https://api.acme.test.cn/v1/chat/completions"
    assert "ccendpoint proxy" not in out


def test_unknown_model_suggests_one(models_file: Path) -> None:
    code, _, err = run("add", "acme", "--models", "acme-smal")
    assert code == 2 and "acme-small" in err
    assert not models_file.exists()


def test_all_adds_deprecated_models_with_fallback_limits(models_file: Path) -> None:
    assert run("add", "acme", "--all")[0] == 0
    old = groups(models_file)[0]["models"][-1]
    assert old["id"] == "acme-old" and old["maxInputTokens"] == 128000


def test_invalid_result_is_refused_and_listed(models_file: Path) -> None:
    broken = '[{"name": "Mine", "vendor": "customendpoint", "models": [{"id": "gpt-4.1", "name": "x"}]}]'
    existing(models_file, broken)
    code, _, err = run("add", "acme")
    assert code == 1
    assert "would not be valid" in err
    assert 'group "Mine" › model "gpt-4.1": same id as a model Copilot serves itself' in err.replace("\n", " ")
    assert "(already in the file)" in err and "--force" in err
    assert models_file.read_text() == broken
    code, _, err = run("add", "acme", "--force")
    assert code == 0 and "already in the file, left as it is" in err.replace("\n", " ")
    assert groups(models_file)[0] == json.loads(broken)[0]


def test_group_name_option(models_file: Path) -> None:
    assert run("add", "acme", "--group", "Acme EU")[0] == 0
    assert groups(models_file)[0]["name"] == "Acme EU"
    assert run("remove", "acme")[0] == 0
    assert groups(models_file) == []


# --- where the file is ----------------------------------------------------------------------------


def test_insiders_profile_and_portable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    insiders = home / ".config" / "Code - Insiders" / "User"
    (insiders / "globalStorage").mkdir(parents=True)
    storage = {"userDataProfiles": [{"location": "-42ab", "name": "Work"}]}
    (insiders / "globalStorage" / "storage.json").write_text(json.dumps(storage))
    assert run("add", "acme", "--edition", "insiders", "--profile", "Work")[0] == 0
    assert groups(insiders / "profiles" / "-42ab" / "chatLanguageModels.json")[0]["name"] == "Acme"

    code, _, err = run("add", "acme", "--edition", "insiders", "--profile", "Home")
    assert code == 2 and "'Work'" in err

    monkeypatch.setenv("VSCODE_PORTABLE", str(home / "portable" / "data"))
    assert run("add", "acme")[0] == 0
    assert (home / "portable" / "data" / "user-data" / "User" / "chatLanguageModels.json").exists()


def test_vscodium_is_warned_about(home: Path) -> None:
    code, _, err = run("add", "acme", "--edition", "vscodium", "--dry-run")
    assert code == 0 and "VSCodium ships without GitHub Copilot Chat" in err.replace("\n", " ")


def test_explicit_file_and_user_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "any" / "where.json"
    assert run("add", "acme", "--file", str(target))[0] == 0
    assert groups(target)[0]["name"] == "Acme"
    assert run("add", "acme", "--user-data-dir", str(tmp_path / "udd"))[0] == 0
    assert (tmp_path / "udd" / "User" / "chatLanguageModels.json").exists()


# --- remove ---------------------------------------------------------------------------------------


def test_remove_after_add_restores_the_exact_file(models_file: Path) -> None:
    original = existing(models_file, fixture_text("commented.jsonc"))
    assert run("add", "acme")[0] == 0
    code, out, _ = run("remove", "acme")
    assert code == 0
    assert '- group "Acme": remove' in out
    assert models_file.read_text() == original
    code, out, _ = run("remove", "acme")
    assert code == 0 and "Nothing to remove" in out


def test_remove_some_models_and_dry_run(models_file: Path) -> None:
    assert run("add", "acme")[0] == 0
    before = models_file.read_text()
    code, out, _ = run("remove", "acme", "--models", "acme-large", "--dry-run")
    assert code == 0 and "- acme-large: remove" in out
    assert models_file.read_text() == before
    assert run("remove", "acme", "--models", "acme-large")[0] == 0
    assert [m["id"] for m in groups(models_file)[0]["models"]] == ["acme-small"]


def test_remove_warns_about_the_key_reference(models_file: Path) -> None:
    assert run("add", "acme")[0] == 0
    with_key = models_file.read_text().replace(
        '"vendor": "customendpoint",', '"vendor": "customendpoint",\n\t\t"apiKey": "${input:chat.lm.secret.-1f}",'
    )
    models_file.write_text(with_key)
    code, _, err = run("remove", "acme")
    assert code == 0
    assert "forgets that reference" in err.replace("\n", " ")
    assert groups(models_file) == []


def test_secrets_never_reach_the_output(models_file: Path) -> None:
    assert run("add", "acme")[0] == 0
    with_key = models_file.read_text().replace(
        '"vendor": "customendpoint",', '"vendor": "customendpoint",\n\t\t"apiKey": "sk-plain-SECRET",'
    )
    models_file.write_text(with_key)
    for args in (("remove", "acme", "--dry-run"), ("remove", "acme", "--json", "--dry-run"), ("backups", "--json")):
        code, out, err = run(*args)
        assert code == 0
        assert "sk-plain-SECRET" not in out + err, args
    code, out, err = run("remove", "acme")
    assert "sk-plain-SECRET" not in out + err and f'"apiKey": "{MASK}"' in out


def test_remove_leaves_a_users_group(models_file: Path) -> None:
    original = existing(models_file, fixture_text("user_acme_group.jsonc"))
    code, out, _ = run("remove", "acme")
    assert code == 0
    assert "not written by ccendpoint; --force removes it" in out
    assert models_file.read_text() == original


# --- backups and restore --------------------------------------------------------------------------


def test_backups_and_restore(home: Path, models_file: Path) -> None:
    original = existing(models_file, fixture_text("commented.jsonc"))
    assert run("add", "acme", "--models", "acme-large")[0] == 0
    after_first = models_file.read_text()
    assert run("add", "acme")[0] == 0
    code, out, _ = run("backups", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 2
    assert listed[0]["file"] == str(models_file) and listed[0]["created"] >= listed[1]["created"]

    code, _, err = run("restore")
    assert code == 1 and "--yes" in err  # no terminal, no question: refuse
    code, out, _ = run("restore", "--yes")
    assert code == 0 and "Restored" in out
    assert models_file.read_text() == after_first  # the newest backup: the file before the second add

    code, out, _ = run("restore", listed[1]["id"], "--yes")
    assert code == 0
    assert models_file.read_text() == original
    assert len(backups_of(home)) == 4  # each restore kept the file it replaced


def test_backups_table_and_empty_list(models_file: Path) -> None:
    code, out, _ = run("backups")
    assert code == 0 and "No backups yet" in out
    existing(models_file, "[]")
    run("add", "acme")
    code, out, _ = run("backups")
    assert code == 0 and "Code-User-" in out and "restore BACKUP" in out


@pytest.mark.parametrize("broken", [b'[{"name": "caf\xe9"}]', b"[{,,, half a save"])
def test_restore_works_when_the_file_is_broken(home: Path, models_file: Path, broken: bytes) -> None:
    existing(models_file, "[]")
    assert run("add", "acme")[0] == 0
    good = models_file.read_bytes()
    models_file.write_bytes(broken)
    code, out, err = run("add", "acme")
    assert code != 0 and "restore" in err  # add refuses the broken file and points here
    code, out, err = run("restore", "--yes")
    assert code == 0, err
    assert models_file.read_bytes() == b"[]"  # the newest backup: the file before the add
    assert "Restored" in out
    listed = json.loads(run("backups", "--json")[1])
    assert any(Path(b["path"]).read_bytes() == broken for b in listed), "the broken bytes are kept too"
    assert good != broken


def test_backups_mark_the_first_copy(models_file: Path) -> None:
    existing(models_file, "[]")
    run("add", "acme", "--models", "acme-large")
    run("add", "acme")
    listed = json.loads(run("backups", "--json")[1])
    assert [b["first"] for b in listed] == [False, True]
    code, out, _ = run("backups")
    assert code == 0 and out.count("(first)") == 1


def test_remove_warns_about_the_users_fields_it_takes(models_file: Path) -> None:
    existing(models_file, "[]")
    run("add", "acme")
    mine = '"id": "acme-small",\n"requestHeaders": {"X-Mine": "1"},'
    models_file.write_text(models_file.read_text().replace('"id": "acme-small",', mine))
    code, out, err = run("remove", "acme", "--json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert len(warnings) == 1 and "requestHeaders" in warnings[0]
    code, out, err = run("add", "acme")
    models_file.write_text(models_file.read_text().replace('"id": "acme-small",', '"id": "acme-small",\n"x": 1,'))
    code, out, err = run("remove", "acme")
    assert code == 0 and "(x)" in " ".join(err.split())


def test_restore_unknown_backup() -> None:
    code, _, err = run("restore", "nope.json", "--yes")
    assert code == 2 and "No backup named" in err


@pytest.mark.parametrize("command", ["add", "remove", "backups", "restore"])
def test_help_has_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert f"Example: ccendpoint {command}" in out


# --- errors from the file system ------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["--catalog", str(PROVIDER_FILE), *args])


@pytest.mark.parametrize(
    "args",
    [
        ("add", "acme"),
        ("add", "acme", "--dry-run"),
        ("remove", "acme"),
        ("restore", "--yes"),
        ("doctor",),
    ],
)
def test_path_through_a_regular_file_is_an_error_not_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    regular = tmp_path / "regular-file"
    regular.write_text("x")
    result = invoke(*args, "--file", str(regular / "x.json"))
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 1
    if args[0] != "doctor":
        text = " ".join(result.stderr.split())
        assert "Not a directory" in text and "--file" in text
    assert regular.read_text() == "x"


def test_unusable_state_folder_is_an_error_not_a_traceback(
    tmp_path: Path, models_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular = tmp_path / "regular-file"
    regular.write_text("x")
    monkeypatch.setenv("XDG_STATE_HOME", str(regular / "state"))
    result = invoke("add", "acme")
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "state folder" in result.stderr and "ls -ld" in result.stderr
    assert not models_file.exists()


def test_any_other_os_error_is_one_line_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from ccendpoint.vscode import backups

    def broken(key: str | None = None) -> list[Any]:
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", "/some/regular-file/x.json")

    monkeypatch.setattr(backups, "list_backups", broken)
    result = invoke("backups")
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()
    assert first == "error: Not a directory: /some/regular-file/x.json"
    assert "run again" in hint and "Traceback" not in result.stderr


# --- options add checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["0", "-5", "65536", "99999"])
def test_add_refuses_a_port_outside_the_tcp_range(models_file: Path, port: str) -> None:
    code, _, err = run("add", "acme", f"--port={port}")
    assert code == 2
    assert f"--port {port} is not a TCP port" in err and "1 to 65535" in err
    assert not models_file.exists()


@pytest.mark.parametrize("name", ["", "   "])
def test_add_and_remove_refuse_a_blank_group(models_file: Path, name: str) -> None:
    code, _, err = run("add", "acme", "--group", name)
    assert code == 2 and "--group is empty" in err
    assert not models_file.exists()
    assert run("add", "acme")[0] == 0
    before = models_file.read_text()
    code, _, err = run("remove", "acme", "--group", name)
    assert code == 2 and "--group is empty" in err
    assert models_file.read_text() == before


def test_add_refuses_an_unknown_region_in_proxy_mode(models_file: Path) -> None:
    code, _, err = run("add", "acme", "--region", "bogus")
    assert code == 2
    assert "Unknown region 'bogus'" in err and "Known regions: global, cn." in err
    assert not models_file.exists()


def test_next_step_starts_the_proxy_the_group_calls(models_file: Path) -> None:
    code, out, err = run("add", "acme", "--port", "3557", "--region", "cn")
    assert code == 0, err
    assert groups(models_file)[0]["models"][0]["url"] == "http://127.0.0.1:3557/v1/chat/completions"
    command = f"ccendpoint --catalog {PROVIDER_FILE} proxy acme --port 3557 --region cn"  # acme lives in an overlay
    assert f"keep it running while you chat: {command}" in " ".join(out.split())
    models_file.unlink()
    code, out, _ = run("add", "acme", "--port", "3557", "--region", "cn", "--json")
    steps = json.loads(out)["next_steps"]
    assert any(step.endswith(f": {command}") for step in steps)


def test_port_in_direct_mode_is_warned_about(models_file: Path) -> None:
    code, out, err = run("add", "acme", "--mode", "direct", "--force", "--port", "3557")
    assert code == 0
    assert "--port 3557 is not used in direct mode" in " ".join(err.split())
    assert "ccendpoint proxy" not in out


# --- secrets and the user's own fields ------------------------------------------------------------

MOONSHOT_KEY = "sk-Zq8vN2mK4pL7xR1tY6wB3cJ9dF5gH0aSx7"  # made up, shaped like a real key
PLAIN_KEY = "sk-plain8Hq2Lm5Rt9Vx3Kp7"


def _users_group_with_secrets() -> str:
    return json.dumps(
        [
            {
                "name": "Acme",
                "vendor": "customendpoint",
                "models": [
                    {
                        "id": "acme-small",
                        "requestHeaders": {"X-Moonshot-Key": MOONSHOT_KEY, "X-Trace": "on"},
                        "name": "Acme Small (mine)",
                        "url": "https://api.acme.test/v1/chat/completions",
                        "toolCalling": True,
                        "vision": False,
                        "maxInputTokens": 30000,
                        "maxOutputTokens": 2000,
                    }
                ],
                "apiKey": PLAIN_KEY,  # last, so the diff's context shows it
            }
        ],
        indent="\t",
    )


def test_keys_never_reach_the_diff_or_the_json_plan(models_file: Path) -> None:
    existing(models_file, _users_group_with_secrets())
    for args in (("add", "acme", "--force", "--dry-run"), ("add", "acme", "--force", "--dry-run", "--json")):
        code, out, err = run(*args)
        assert code == 0, err
        assert MOONSHOT_KEY not in out + err and PLAIN_KEY not in out + err, args
        diff = json.loads(out)["diff"] if "--json" in args else out
        assert f'"X-Moonshot-Key": "{MASK}"' in diff and f'"apiKey": "{MASK}"' in diff, args
    code, out, err = run("add", "acme", "--force")
    assert code == 0 and MOONSHOT_KEY not in out + err and PLAIN_KEY not in out + err


def test_force_keeps_the_users_own_fields_of_a_replaced_entry(models_file: Path) -> None:
    existing(models_file, _users_group_with_secrets())
    code, out, err = run("add", "acme", "--yes")
    assert code == 0, err
    assert "~ acme-small: replace" in out
    small = groups(models_file)[0]["models"][0]
    assert small == {
        **acme_group()["models"][1],
        "requestHeaders": {"X-Moonshot-Key": MOONSHOT_KEY, "X-Trace": "on"},
    }
    code, out, _ = run("add", "acme")
    assert code == 0 and "= acme-small: unchanged" in out and "Already up to date" in out


# --- where the file is, for add, doctor and restore -----------------------------------------------


def test_user_data_dir_with_a_tilde_is_expanded(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # without the expansion, "~/udd" would land here
    assert run("add", "acme", "--user-data-dir", "~/udd")[0] == 0
    assert (home / "udd" / "User" / "chatLanguageModels.json").exists()
    assert not (tmp_path / "~").exists()
    _, out, _ = run("doctor", "--user-data-dir", "~/udd", "--json")
    assert json.loads(out)["file"] == str(home / "udd" / "User" / "chatLanguageModels.json")


def test_file_request_expands_both_paths(home: Path) -> None:
    request = options.file_request(options.EditionChoice.insiders, "Work", Path("~/udd"), Path("~/models.json"))
    assert request.edition == "insiders" and request.profile == "Work"
    assert request.user_data_dir == str(home / "udd") and request.file == str(home / "models.json")


def test_restore_a_named_backup_into_the_file_the_options_name(home: Path, models_file: Path, tmp_path: Path) -> None:
    original = existing(models_file, fixture_text("commented.jsonc"))
    assert run("add", "acme")[0] == 0
    after_add = models_file.read_text()
    backup_id = json.loads(run("backups", "--json")[1])[0]["id"]

    other = tmp_path / "other.json"
    code, out, err = run("restore", backup_id, "--file", str(other), "--yes")
    assert code == 0, err
    assert other.read_text() == original and models_file.read_text() == after_add
    assert "Restoring it into another file:" in out and str(other) in out.replace("\n", "")

    insiders = home / ".config" / "Code - Insiders" / "User" / "chatLanguageModels.json"
    code, out, err = run("restore", backup_id, "--edition", "insiders", "--yes")
    assert code == 0, err
    assert insiders.read_text() == original and models_file.read_text() == after_add

    code, _, err = run("restore", backup_id, "--edition", "insiders", "--profile", "Nope", "--yes")
    assert code == 2 and "Nope" in err


# --- remove after a rename in VS Code -------------------------------------------------------------


def test_remove_of_a_renamed_group_says_how_to_name_it(models_file: Path) -> None:
    assert run("add", "acme")[0] == 0
    models_file.write_text(models_file.read_text().replace('"name": "Acme"', '"name": "Acme (work)"'))
    before = models_file.read_text()
    code, out, err = run("remove", "acme")
    assert code == 0 and "Nothing to remove" in out
    text = " ".join(err.split())
    assert 'No customendpoint group named "Acme"' in text and '"Acme (work)"' in text and "--group NAME" in text
    assert models_file.read_text() == before
    code, out, err = run("remove", "acme", "--group", "Acme (work)", "--force")
    assert code == 0, err
    assert groups(models_file) == []


def test_next_step_repeats_the_catalog_overlay_that_defines_the_provider(tmp_path: Path) -> None:
    from ccendpoint.catalog.loader import bundled_sources

    kimi = next(s for s in bundled_sources() if s.label == "kimi.yaml").data.decode()
    overlay = tmp_path / "my cat" / "acme.yaml"
    overlay.parent.mkdir()
    overlay.write_text(
        kimi.replace("id: kimi", "id: acme2", 1)
        .replace("port: 3457", "port: 3499")
        .replace("aliases: [moonshot, kimi-k2, kimi-k3]", "aliases: []")
        .replace("group_name: Kimi", "group_name: Acme2")
    )
    target = tmp_path / "chatLanguageModels.json"
    result = CliRunner().invoke(app, ["--catalog", str(overlay), "add", "acme2", "--file", str(target), "--json"])
    assert result.exit_code == 0, result.stderr
    assert f"ccendpoint --catalog '{overlay}' proxy acme2" in result.stdout
    bundled = CliRunner().invoke(app, ["--catalog", str(overlay), "add", "kimi", "--file", str(target), "--json"])
    assert "ccendpoint proxy kimi" in bundled.stdout and "--catalog" not in bundled.stdout


# --- a team gateway -------------------------------------------------------------------------------

GATEWAY = "https://llm.example.com"


def test_add_points_the_group_at_a_team_gateway(models_file: Path) -> None:
    existing(models_file, "[]")
    code, out, err = run("add", "acme", "--gateway", GATEWAY, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "gateway" and data["written"]
    assert any("the key your gateway gave you" in step for step in data["next_steps"])
    assert not any("ccendpoint proxy" in step for step in data["next_steps"])
    (group,) = groups(models_file)
    assert "apiKey" not in group
    for model in group["models"]:
        assert model["url"] == f"{GATEWAY}/v1/chat/completions"
        assert model["requestHeaders"] == {"Authorization": "Bearer ${apiKey}"}
    before = models_file.read_bytes()
    code, out, _ = run("add", "acme", "--gateway", GATEWAY)
    assert code == 0 and "Already up to date" in out
    assert models_file.read_bytes() == before


def test_an_edited_gateway_header_is_the_users_edit(models_file: Path) -> None:
    existing(models_file, "[]")
    run("add", "acme", "--gateway", GATEWAY)
    edited = models_file.read_text().replace('"Bearer ${apiKey}"', '"Bearer ${apiKey}", "x-team": "mine"', 1)
    models_file.write_text(edited)
    code, out, _ = run("add", "acme", "--gateway", GATEWAY, "--json")
    assert code == 0
    actions = {c["model"]: c["action"] for c in json.loads(out)["changes"]}
    assert "kept" in actions.values()
    assert models_file.read_text() == edited


def test_back_from_the_gateway_to_the_proxy_drops_the_headers_ccendpoint_wrote(models_file: Path) -> None:
    existing(models_file, "[]")
    run("add", "acme", "--gateway", GATEWAY, "--gateway-header", "x-team=platform")
    assert groups(models_file)[0]["models"][0]["requestHeaders"]["x-team"] == "platform"
    code, out, err = run("add", "acme", "--json")
    assert code == 0, err
    assert {c["action"] for c in json.loads(out)["changes"] if c["model"]} == {"update"}
    for model in groups(models_file)[0]["models"]:
        assert "requestHeaders" not in model and model["url"].startswith("http://127.0.0.1:")
    code, out, _ = run("remove", "acme", "--json")
    assert code == 0 and json.loads(out)["warnings"] == []


def test_removing_a_gateway_group_does_not_call_its_headers_the_users(models_file: Path) -> None:
    existing(models_file, "[]")
    run("add", "acme", "--gateway", GATEWAY)
    code, out, _ = run("remove", "acme", "--json")
    assert code == 0 and json.loads(out)["warnings"] == []
    assert groups(models_file) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway-header", "x-team=a"], "needs --gateway"),
        (["--gateway", GATEWAY, "--port", "4100"], "--port does not apply"),
        (["--gateway", "http://llm.example.com"], "plain http"),
        (["--gateway", GATEWAY, "--gateway-header", "Authorization=Bearer sk-live"], "plain text"),
        (["--gateway", GATEWAY, "--gateway-header", "novalue"], "NAME=VALUE"),
        (["--gateway", GATEWAY, "--discover"], "--discover does not go with --gateway"),
    ],
)
def test_bad_gateway_options_are_refused_and_nothing_is_written(
    models_file: Path, args: list[str], message: str
) -> None:
    existing(models_file, "[]")
    code, _, err = run("add", "acme", *args)
    assert code == 2 and message in " ".join(err.split())
    assert models_file.read_text() == "[]"
