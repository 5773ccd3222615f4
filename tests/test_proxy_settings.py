"""Proxy settings: flags > environment > .env files > catalog, and clear errors for bad values."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from ccendpoint import dirs
from ccendpoint.catalog.model import Catalog
from ccendpoint.errors import UsageError
from ccendpoint.proxy.settings import DEFAULT_MAX_BODY_MB, ProxyOptions, open_log_files, resolve, resolve_all
from ccendpoint.proxy.sources import env_layers, env_names
from ccendpoint.urls import is_loopback_host as is_loopback
from ccendpoint.urls import safe_url
from proxy_helpers import bundled_catalog, provider

KIMI_GLOBAL = "https://api.moonshot.ai/v1/chat/completions"
KIMI_CHINA = "https://api.moonshot.cn/v1/chat/completions"


def layers(environ: dict[str, str] | None = None, cwd: Path | None = None) -> list:  # type: ignore[type-arg]
    return env_layers(environ or {}, cwd)


def test_catalog_defaults(tmp_path: Path) -> None:
    settings = resolve(provider("kimi"), ProxyOptions(), layers(cwd=tmp_path))
    assert (settings.host, settings.port, settings.upstream) == ("127.0.0.1", 3457, KIMI_GLOBAL)
    assert settings.log_path == dirs.log_dir() / "kimi-proxy.ndjson"
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_MB * 1024 * 1024
    assert settings.first_byte_timeout == settings.idle_timeout == 300
    assert settings.connect_timeout == 10
    assert not settings.exposed
    assert settings.origins["port"] == "catalog"


def test_every_provider_has_its_own_variables() -> None:
    assert env_names(provider("kimi")) == {
        "port": "KIMI_PROXY_PORT",
        "upstream": "KIMI_UPSTREAM_URL",
        "log": "KIMI_PROXY_LOG",
        "host": "KIMI_PROXY_HOST",
        "region": "KIMI_PROXY_REGION",
        "max_body_mb": "KIMI_PROXY_MAX_BODY_MB",
        "first_byte_timeout": "KIMI_PROXY_FIRST_BYTE_TIMEOUT",
        "idle_timeout": "KIMI_PROXY_IDLE_TIMEOUT",
    }
    assert env_names(provider("qwen"))["port"] == "QWEN_PROXY_PORT"
    assert env_names(provider("mimo"))["upstream"] == "MIMO_UPSTREAM_URL"


def test_environment_beats_the_catalog(tmp_path: Path) -> None:
    environ = {
        "KIMI_PROXY_PORT": "4001",
        "KIMI_UPSTREAM_URL": "http://127.0.0.1:9/v1/chat/completions",
        "KIMI_PROXY_LOG": str(tmp_path / "k.ndjson"),
        "KIMI_PROXY_MAX_BODY_MB": "2.5",
        "KIMI_PROXY_FIRST_BYTE_TIMEOUT": "30",
        "KIMI_PROXY_IDLE_TIMEOUT": "45",
        "KIMI_PROXY_HOST": "localhost",
        "QWEN_PROXY_PORT": "5000",
        "PORT": "1234",
    }
    settings = resolve(provider("kimi"), ProxyOptions(), layers(environ, tmp_path))
    assert settings.port == 4001 and settings.upstream == "http://127.0.0.1:9/v1/chat/completions"
    assert settings.log_path == tmp_path / "k.ndjson"
    assert settings.max_body_bytes == int(2.5 * 1024 * 1024)
    assert (settings.first_byte_timeout, settings.idle_timeout, settings.host) == (30, 45, "localhost")
    assert settings.origins["port"] == "KIMI_PROXY_PORT (from the environment)"


def test_flags_beat_the_environment(tmp_path: Path) -> None:
    environ = {"KIMI_PROXY_PORT": "4001", "KIMI_UPSTREAM_URL": "http://127.0.0.1:9/x", "KIMI_PROXY_LOG": "a.ndjson"}
    options = ProxyOptions(
        port=4002,
        upstream="https://example.com/v1/chat/completions",
        log=tmp_path / "flag.ndjson",
        max_body_mb=1,
        first_byte_timeout=5,
        idle_timeout=6,
        host="127.0.0.2",
    )
    settings = resolve(provider("kimi"), options, layers(environ, tmp_path))
    assert settings.port == 4002 and settings.upstream == "https://example.com/v1/chat/completions"
    assert settings.log_path == tmp_path / "flag.ndjson" and settings.max_body_bytes == 1024 * 1024
    assert (settings.first_byte_timeout, settings.idle_timeout, settings.host) == (5, 6, "127.0.0.2")


def test_no_log_beats_every_log_setting(tmp_path: Path) -> None:
    settings = resolve(provider("kimi"), ProxyOptions(no_log=True), layers({"KIMI_PROXY_LOG": "x.ndjson"}, tmp_path))
    assert settings.log_path is None


@pytest.mark.parametrize("word", ["off", "OFF", "none", "0", "false"])
def test_log_variable_can_switch_the_log_off(tmp_path: Path, word: str) -> None:
    settings = resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_LOG": word}, tmp_path))
    assert settings.log_path is None


def test_dotenv_files_rank_below_the_environment(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = dirs.config_dir()
    config.mkdir(parents=True)
    (config / ".env").write_text("KIMI_PROXY_PORT=4100\nKIMI_PROXY_IDLE_TIMEOUT=11\nKIMI_PROXY_MAX_BODY_MB=3\n")
    (work / ".env").write_text("# local\nKIMI_PROXY_PORT=4200\nexport KIMI_PROXY_IDLE_TIMEOUT=22\nKIMI_PROXY_LOG\n")
    settings = resolve(provider("kimi"), ProxyOptions(), layers({}, work))
    assert settings.port == 4200  # working directory beats the config directory
    assert settings.idle_timeout == 22
    assert settings.max_body_bytes == 3 * 1024 * 1024  # only the config-directory file says it
    assert settings.origins["port"] == f"KIMI_PROXY_PORT (from .env in the working folder ({work / '.env'}))"
    assert settings.log_path == dirs.log_dir() / "kimi-proxy.ndjson"  # a name without value is ignored

    settings = resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_PORT": "4300"}, work))
    assert settings.port == 4300 and settings.idle_timeout == 22
    assert "KIMI_PROXY_PORT" not in os.environ  # .env files never leak into the process environment


def test_dotenv_does_not_touch_other_providers(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KIMI_PROXY_PORT=4200\n")
    assert resolve(provider("qwen"), ProxyOptions(), layers({}, tmp_path)).port == 3458


def test_region_flag_and_variable(tmp_path: Path) -> None:
    kimi = provider("kimi")
    assert resolve(kimi, ProxyOptions(region="china"), layers(cwd=tmp_path)).upstream == KIMI_CHINA
    env = {"KIMI_PROXY_REGION": "china"}
    assert resolve(kimi, ProxyOptions(), layers(env, tmp_path)).upstream == KIMI_CHINA
    # an upstream URL beats a region in the same place; a flag beats any variable
    env["KIMI_UPSTREAM_URL"] = "http://127.0.0.1:9/x"
    assert resolve(kimi, ProxyOptions(), layers(env, tmp_path)).upstream == "http://127.0.0.1:9/x"
    assert resolve(kimi, ProxyOptions(region="global"), layers(env, tmp_path)).upstream == KIMI_GLOBAL
    both = ProxyOptions(region="china", upstream="http://127.0.0.1:8/y")
    assert resolve(kimi, both, layers(env, tmp_path)).upstream == "http://127.0.0.1:8/y"


def test_unknown_region_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no region 'mars'. Known regions: global, china"):
        resolve(provider("kimi"), ProxyOptions(region="mars"), layers(cwd=tmp_path))
    with pytest.raises(UsageError, match=r"KIMI_PROXY_REGION \(from the environment\)"):
        resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_REGION": "mars"}, tmp_path))


@pytest.mark.parametrize("value", ["abc", "70000", "-1", "3457.5", "1e3", " "])
def test_bad_port_variable(tmp_path: Path, value: str) -> None:
    if not value.strip():
        assert resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_PORT": value}, tmp_path)).port == 3457
        return
    with pytest.raises(UsageError, match=r"KIMI_PROXY_PORT \(from the environment\) must be a port number"):
        resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_PORT": value}, tmp_path))


@pytest.mark.parametrize("port", [-1, 65536, 100000])
def test_bad_port_flag(tmp_path: Path, port: int) -> None:
    with pytest.raises(UsageError, match=r"--port must be a port number from 1 to 65535"):
        resolve(provider("kimi"), ProxyOptions(port=port), layers(cwd=tmp_path))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.moonshot.ai/v1",
        "api.moonshot.ai/v1/chat/completions",
        "http://",
        "https://:443/x",
        "http://h:99999/x",
    ],
)
def test_bad_upstream_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(UsageError, match=r"--upstream must be an http\(s\) URL"):
        resolve(provider("kimi"), ProxyOptions(upstream=url), layers(cwd=tmp_path))
    with pytest.raises(UsageError, match=r"KIMI_UPSTREAM_URL \(from the environment\) must be an http\(s\) URL"):
        resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_UPSTREAM_URL": url}, tmp_path))


def test_bad_url_message_does_not_repeat_credentials(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(
            provider("kimi"), ProxyOptions(upstream="ftp://user:sk-secret-value@host/x?key=sk-x"), layers(cwd=tmp_path)
        )
    assert "sk-secret" not in caught.value.message and "key=" not in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("max_body_mb", 0.0, "--max-body-mb must be a positive number of MiB"),
        ("max_body_mb", -3.0, "--max-body-mb"),
        ("first_byte_timeout", 0.0, "--first-byte-timeout must be a positive number of seconds"),
        ("idle_timeout", float("nan"), "--idle-timeout"),
        ("idle_timeout", float("inf"), "--idle-timeout"),
    ],
)
def test_bad_numbers(tmp_path: Path, field: str, value: float, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        resolve(provider("kimi"), replace(ProxyOptions(), **{field: value}), layers(cwd=tmp_path))


@pytest.mark.parametrize("name", ["KIMI_PROXY_MAX_BODY_MB", "KIMI_PROXY_FIRST_BYTE_TIMEOUT", "KIMI_PROXY_IDLE_TIMEOUT"])
def test_bad_number_variables(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=name):
        resolve(provider("kimi"), ProxyOptions(), layers({name: "soon"}, tmp_path))


def test_network_address_needs_the_flag(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="reachable from the network") as caught:
        resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_HOST": "0.0.0.0"}, tmp_path))
    assert "--host 0.0.0.0" in (caught.value.hint or "")
    settings = resolve(provider("kimi"), ProxyOptions(host="0.0.0.0"), layers(cwd=tmp_path))
    assert settings.exposed and settings.host == "0.0.0.0"


@pytest.mark.parametrize("host", ["", "two words", "http://x"])
def test_bad_host(tmp_path: Path, host: str) -> None:
    with pytest.raises(UsageError, match="--host must be an IP address or host name"):
        resolve(provider("kimi"), ProxyOptions(host=host), layers(cwd=tmp_path))


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "::", "example.com"))


def test_all_gives_every_provider_its_catalog_port(tmp_path: Path) -> None:
    listeners = resolve_all(bundled_catalog(), ProxyOptions(), layers(cwd=tmp_path))
    ports = {s.provider.id: s.port for s in listeners}
    assert ports == {
        "deepseek": 3460,
        "glm": 3461,
        "kimi": 3457,
        "mimo": 3459,
        "minimax": 3462,
        "nemotron": 3463,
        "qwen": 3458,
    }


@pytest.mark.parametrize(
    "options", [ProxyOptions(port=5000), ProxyOptions(upstream="http://x/y"), ProxyOptions(region="china")]
)
def test_all_refuses_options_that_belong_to_one_provider(tmp_path: Path, options: ProxyOptions) -> None:
    with pytest.raises(UsageError, match="cannot be used with --all"):
        resolve_all(bundled_catalog(), options, layers(cwd=tmp_path))


def test_named_providers_with_a_region_each(tmp_path: Path) -> None:
    chosen = [provider("kimi"), provider("qwen")]
    listeners = resolve_all(
        bundled_catalog(), ProxyOptions(), layers(cwd=tmp_path), providers=chosen, regions={"kimi": "china"}
    )
    assert [(s.provider.id, s.port) for s in listeners] == [("kimi", 3457), ("qwen", 3458)]
    assert listeners[0].upstream == KIMI_CHINA
    assert listeners[1].upstream == provider("qwen").endpoint().url
    with pytest.raises(UsageError, match="names a provider that is not served"):
        resolve_all(bundled_catalog(), ProxyOptions(), layers(cwd=tmp_path), providers=chosen, regions={"glm": "x"})
    with pytest.raises(UsageError, match="no region 'mars'"):
        resolve_all(bundled_catalog(), ProxyOptions(), layers(cwd=tmp_path), providers=chosen, regions={"kimi": "mars"})


def test_all_refuses_two_providers_on_one_port(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="kimi and qwen would both listen on port 3457"):
        resolve_all(bundled_catalog(), ProxyOptions(), layers({"QWEN_PROXY_PORT": "3457"}, tmp_path))


def test_all_accepts_port_zero_everywhere(tmp_path: Path) -> None:
    environ = {env_names(p)["port"]: "0" for p in bundled_catalog().providers}
    assert {s.port for s in resolve_all(bundled_catalog(), ProxyOptions(), layers(environ, tmp_path))} == {0}


def test_provider_without_a_port_needs_the_flag(tmp_path: Path) -> None:
    portless = replace(provider("kimi"), proxy_port=None)
    with pytest.raises(UsageError, match="no proxy port"):
        resolve(portless, ProxyOptions(), layers(cwd=tmp_path))
    assert resolve(portless, ProxyOptions(port=4000), layers(cwd=tmp_path)).port == 4000


def test_safe_url() -> None:
    assert safe_url("https://user:pw@api.example.com:8443/v1/chat?key=sk-1#x") == "https://api.example.com:8443/v1/chat"
    assert safe_url("http://[::1]:3457/v1") == "http://[::1]:3457/v1"
    assert safe_url("http://h:notaport/") == "<invalid URL>"


# -- every refusal says how to fix it --------------------------------------------------------------


def _no_ported_providers() -> Catalog:
    catalog = bundled_catalog()
    return replace(catalog, providers=tuple(replace(p, proxy_port=None) for p in catalog.providers))


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("bad_dotenv", "Cannot read"),
        ("zero_flag", "--idle-timeout must be a positive number"),
        ("bad_variable", "KIMI_PROXY_MAX_BODY_MB (from the environment) must be a positive number"),
        ("bad_host", "--host must be an IP address or host name"),
        ("bad_url", "--upstream must be an http(s) URL"),
        ("bad_region", "no region 'mars'"),
        ("no_ported_provider", "No provider in the catalog has a proxy port"),
    ],
)
def test_every_settings_error_has_a_fix_hint(tmp_path: Path, case: str, words: str) -> None:
    (tmp_path / ".env").write_bytes(b"KIMI_PROXY_PORT=\xff\xfe\n" if case == "bad_dotenv" else b"")
    with pytest.raises(UsageError) as caught:
        if case == "bad_dotenv":
            env_layers({}, tmp_path)
        elif case == "zero_flag":
            resolve(provider("kimi"), ProxyOptions(idle_timeout=0), layers(cwd=tmp_path))
        elif case == "bad_variable":
            resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_MAX_BODY_MB": "lots"}, tmp_path))
        elif case == "bad_host":
            resolve(provider("kimi"), ProxyOptions(host="two words"), layers(cwd=tmp_path))
        elif case == "bad_url":
            resolve(provider("kimi"), ProxyOptions(upstream="ftp://x"), layers(cwd=tmp_path))
        elif case == "bad_region":
            resolve(provider("kimi"), ProxyOptions(region="mars"), layers(cwd=tmp_path))
        else:
            resolve_all(_no_ported_providers(), ProxyOptions(), layers(cwd=tmp_path))
    assert words in caught.value.message
    assert caught.value.hint, f"no fix hint for: {caught.value.message}"


def test_number_hints_give_the_default(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(provider("kimi"), ProxyOptions(max_body_mb=-1), layers(cwd=tmp_path))
    assert f"{DEFAULT_MAX_BODY_MB:g}" in (caught.value.hint or "")
    with pytest.raises(UsageError) as caught:
        resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_PROXY_FIRST_BYTE_TIMEOUT": "0"}, tmp_path))
    assert "300" in (caught.value.hint or "")


# -- the request log is checked before the proxy starts --------------------------------------------


def test_the_log_file_and_its_folder_are_created_at_start(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "kimi.ndjson"
    settings = resolve(provider("kimi"), ProxyOptions(log=path), layers(cwd=tmp_path))
    open_log_files([settings])
    assert path.is_file() and path.read_bytes() == b""
    path.write_bytes(b"kept\n")
    open_log_files([settings])  # appends: an existing log is never truncated
    assert path.read_bytes() == b"kept\n"
    open_log_files([resolve(provider("kimi"), ProxyOptions(no_log=True), layers(cwd=tmp_path))])


def _unwritable(tmp_path: Path, kind: str) -> Path:
    if kind == "folder":
        (tmp_path / "a-folder").mkdir()
        return tmp_path / "a-folder"
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file" / "kimi.ndjson"  # its "folder" is a file: cannot be created


@pytest.mark.parametrize("kind", ["folder", "under_a_file"])
def test_a_log_path_that_cannot_be_written_stops_the_start(tmp_path: Path, kind: str) -> None:
    path = _unwritable(tmp_path, kind)
    settings = resolve(provider("kimi"), ProxyOptions(log=path), layers(cwd=tmp_path))
    with pytest.raises(UsageError) as caught:
        open_log_files([settings])
    assert f"Cannot write the request log {path} (set by --log)" in caught.value.message
    assert "--log PATH" in (caught.value.hint or "") and "--no-log" in (caught.value.hint or "")


def test_a_bad_log_variable_is_named_with_where_it_came_from(tmp_path: Path) -> None:
    path = _unwritable(tmp_path, "folder")
    (tmp_path / ".env").write_text(f"KIMI_PROXY_LOG={path}\n")
    settings = resolve(provider("kimi"), ProxyOptions(), layers(cwd=tmp_path))
    with pytest.raises(UsageError) as caught:
        open_log_files([settings])
    assert f"(set by KIMI_PROXY_LOG (from .env in the working folder ({tmp_path / '.env'})))" in caught.value.message
    hint = caught.value.hint or ""
    assert "KIMI_PROXY_LOG" in hint and "--log PATH" in hint and "--no-log" in hint


# -- where the key may go -------------------------------------------------------------------------

ELSEWHERE = "https://collector.example/v1/chat/completions"


def test_a_working_folder_env_may_not_choose_the_upstream(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"KIMI_UPSTREAM_URL={KIMI_CHINA}\nKIMI_PROXY_PORT=4200\n")
    with pytest.raises(UsageError, match="a file in the working folder may not choose the upstream") as caught:
        resolve(provider("kimi"), ProxyOptions(), layers(cwd=tmp_path))
    assert "--trust-dotenv" in (caught.value.hint or "")
    settings = resolve(provider("kimi"), ProxyOptions(trust_dotenv=True), layers(cwd=tmp_path))
    assert settings.upstream == KIMI_CHINA  # a catalog endpoint, from a file the user vouched for
    (tmp_path / ".env").write_text("KIMI_PROXY_HOST=127.0.0.1\n")
    with pytest.raises(UsageError, match="the address the proxy listens on"):
        resolve(provider("kimi"), ProxyOptions(), layers(cwd=tmp_path))


def test_the_users_own_env_file_is_trusted(tmp_path: Path) -> None:
    config = dirs.config_dir()
    config.mkdir(parents=True)
    (config / ".env").write_text(f"KIMI_UPSTREAM_URL={KIMI_CHINA}\n")
    work = tmp_path / "work"
    work.mkdir()
    assert resolve(provider("kimi"), ProxyOptions(), layers(cwd=work)).upstream == KIMI_CHINA


@pytest.mark.parametrize(
    ("environ", "options", "refused"),
    [
        ({"KIMI_UPSTREAM_URL": ELSEWHERE}, ProxyOptions(), "not one of the catalog's endpoints"),
        ({"KIMI_UPSTREAM_URL": ELSEWHERE}, ProxyOptions(trust_upstream=True), None),
        ({}, ProxyOptions(upstream=ELSEWHERE), None),  # typed on the command line: the user chose it
        ({}, ProxyOptions(upstream="http://collector.example/v1"), "plain http to another machine"),
        ({}, ProxyOptions(upstream="http://collector.example/v1", trust_upstream=True), None),
        ({"KIMI_UPSTREAM_URL": "http://127.0.0.1:9/v1/chat/completions"}, ProxyOptions(), None),  # this machine
        ({"KIMI_UPSTREAM_URL": "http://localhost:9/v1"}, ProxyOptions(), None),
    ],
)
def test_an_upstream_outside_the_catalog_needs_the_users_word(
    environ: dict[str, str], options: ProxyOptions, refused: str | None, tmp_path: Path
) -> None:
    if refused is None:
        settings = resolve(provider("kimi"), options, layers(environ, tmp_path))
        assert settings.upstream in (options.upstream, environ.get("KIMI_UPSTREAM_URL"))
    else:
        with pytest.raises(UsageError, match=refused) as caught:
            resolve(provider("kimi"), options, layers(environ, tmp_path))
        assert "--trust-upstream" in (caught.value.hint or "")


def test_the_start_line_says_where_an_upstream_came_from(tmp_path: Path) -> None:
    from ccendpoint.proxy.listener import Listener
    from ccendpoint.proxy.logs import RequestLog
    from ccendpoint.proxy.process import listener_line
    from ccendpoint.proxy.upstream import UpstreamSession

    local = "http://127.0.0.1:9/v1/chat/completions"
    settings = resolve(provider("kimi"), ProxyOptions(), layers({"KIMI_UPSTREAM_URL": local}, tmp_path))
    line = listener_line(Listener(settings, RequestLog(), UpstreamSession(1.0)))
    assert f"→ {local} (from KIMI_UPSTREAM_URL (from the environment))" in line
    catalog = resolve(provider("kimi"), ProxyOptions(), layers({}, tmp_path))
    assert "(from" not in listener_line(Listener(catalog, RequestLog(), UpstreamSession(1.0))).split("rules:")[0]
