"""The request log: fields, no content, no secrets, rotation, and never blocking a request."""

from __future__ import annotations

import fnmatch
import io
import sys
import threading
import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from rich.console import Console

from ccendpoint.doctor.machine import read_log_records
from ccendpoint.proxy import logfiles, logs
from ccendpoint.proxy.logfiles import CURRENT_LOG_GLOB, LOG_GLOB, log_file_name, log_files, read_records
from ccendpoint.proxy.logs import RequestLog, RotatingFile, console_line, redact_record
from ccendpoint.proxy.settings import ProxyOptions, resolve
from ccendpoint.redact import MASK
from fake_upstreams import Behaviour, FakeUpstream
from proxy_helpers import VSCODE_HEADERS, provider, read_log, running_proxy, vscode_request

# a key that looks real: provider prefix, long mixed token
SECRET = "sk-proj-Q7vX2mN9pL4kR8sT1wY6zB3cD5fG0hJ"
SECRET_TAIL = "Q7vX2mN9pL4kR8sT1wY6zB3cD5fG0hJ"
BARE_SECRET = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"  # no prefix at all
# short keys no value pattern recognises: only the header's name says they are credentials
SHORT_KEY = "Zk3mP9qLxx"
LETTERS_KEY = "QwErTyUiOpAs"


async def test_one_line_per_request_with_the_facts_and_no_content(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        body = vscode_request("kimi-k2.6", "follow_up")
        body["messages"][2]["content"] = "my private question about project-zebra"
        async with aiohttp.ClientSession() as session:
            async with session.post(proxy.url, data=orjson.dumps(body), headers=VSCODE_HEADERS) as response:
                await response.read()
            async with session.post(proxy.url, data=b"[]") as response:
                assert response.status == 400
    first, second = await read_log(log, 2)
    assert first["provider"] == "kimi" and first["model"] == "kimi-k2.6"
    assert first["path"] == "/v1/chat/completions" and first["status"] == 200 and first["outcome"] == "ok"
    assert first["stream"] is True and first["tool_turn"] is True and first["missing_reasoning"] is True
    assert first["messages"] == 5 and first["roles"] == {"system": 1, "user": 2, "assistant": 1, "tool": 1}
    assert first["tools"] == len(body["tools"]) and first["rule_set"] == "k2-hybrid"
    assert first["changes"] == ["temperature 1 → 0.6", 'thinking → {"type":"disabled"}']
    assert first["upstream_request_id"].startswith("req-up-")
    assert first["client_request_id"] == VSCODE_HEADERS["X-Request-ID"]
    assert first["bytes_in"] > 0 and first["bytes_out"] > 0 and first["bytes_upstream"] > 0
    assert 0 <= first["first_byte_ms"] <= first["total_ms"]
    assert first["id"] and first["time"].endswith("Z")
    assert second["status"] == 400 and second["outcome"] == "rejected" and "JSON object" in second["error"]
    text = log.read_text()
    assert "project-zebra" not in text and "stands in for text" not in text and "Hello." not in text


async def test_a_refused_request_is_not_logged_as_ok(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi", Behaviour(status=429)) as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat"))) as response,
    ):
        assert response.status == 429
        await response.read()
    (record,) = await read_log(log)
    assert record["status"] == 429 and record["outcome"] == "upstream_error" and record["upstream_error"]


async def test_an_error_event_inside_a_200_stream_is_logged_as_a_failure(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi", Behaviour(error_event_after=2)) as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat"))) as response,
    ):
        assert response.status == 200
        raw = await response.read()
    assert b'"error"' in raw, "the error event reaches the client as it came"
    (record,) = await read_log(log)
    assert record["status"] == 200 and record["outcome"] == "upstream_stream_error"
    assert record["upstream_error"] == "The server is overloaded, please retry."
    assert "ok" not in console_line(record)


async def test_unknown_model_is_noted(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    body = orjson.dumps(vscode_request("kimi-k9", "chat"))
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=body) as response,
    ):
        await response.read()
    (record,) = await read_log(log)
    assert "not in the catalog" in record["notes"][0] and record["rule_set"] == "k2-hybrid"


async def test_no_secret_reaches_the_log_file_stdout_or_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "kimi.ndjson"
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "Proxy-Authorization": f"Bearer {SECRET}",
        "X-Api-Key": SECRET,
        "Api-Key": SECRET,
        "Cookie": f"session={SECRET}; other={BARE_SECRET}",
        "X-Custom-Token": f"token={BARE_SECRET}",
        "X-Request-Id": SECRET,
        # credential headers by name only, with values that look like nothing
        "X-Auth-Token": SHORT_KEY,
        "X-Moonshot-Key": LETTERS_KEY,
        "X-Dashscope-ApiKey": LETTERS_KEY,
        "X-Client-Secret": f"Bearer {LETTERS_KEY}",
    }
    behaviour = Behaviour(extra_headers={"Set-Cookie": f"sid={SECRET}; Path=/", "X-Echo": SECRET})
    console = Console(file=sys.stdout, force_terminal=True, width=200)
    request_log = RequestLog(console=console)
    async with (
        FakeUpstream("kimi", behaviour) as upstream,
        running_proxy("kimi", upstream.url, log=log, request_log=request_log) as proxy,
        aiohttp.ClientSession() as session,
    ):
        for body in (vscode_request("kimi-k2.6", "chat"), vscode_request("kimi-k2.6", "chat", stream=False)):
            async with session.post(proxy.url + f"?api-key={SECRET}", json=body, headers=headers) as response:
                assert response.status == 200
                await response.read()
        async with session.post(proxy.url, data=b"{bad", headers=headers) as response:
            assert response.status == 400
        assert upstream.last.headers["Authorization"] == f"Bearer {SECRET}"  # forwarded as it came
    records = await read_log(log, 3)
    out, err = capfd.readouterr()
    text = log.read_text()
    for secret in (SECRET, SECRET_TAIL, BARE_SECRET, SHORT_KEY, LETTERS_KEY):
        assert secret not in text
        assert secret not in out
        assert secret not in err
    assert upstream.last.headers["X-Moonshot-Key"] == LETTERS_KEY  # masked in the log only
    for record in records:
        shown = record["headers"]
        assert shown["authorization"] == f"Bearer {MASK}"
        assert shown["cookie"] == MASK
        assert shown["x-auth-token"] == shown["x-moonshot-key"] == shown["x-dashscope-apikey"] == MASK
        assert shown["x-client-secret"] == f"Bearer {MASK}"
        assert shown["user-agent"].startswith("Python")  # ordinary headers stay readable
    assert "200" in out and "kimi-k2.6" in out  # the terminal line was printed


def test_redact_record_masks_headers_by_name_and_value_and_scrubs_ids() -> None:
    raw = {
        "status": 200,
        "headers": (
            ("Authorization", f"Bearer {SECRET}"),
            ("X-Auth-Token", SHORT_KEY),
            ("x-moonshot-key", LETTERS_KEY),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Thing", f"prefix {SECRET}"),
            ("Accept", "application/json"),
            ("X-Request-Id", "4f1c2b9e-8d7a-4e3f-9c1b-2a3d4e5f6a7b"),
        ),
        "client_request_id": SECRET,
        "upstream_request_id": "req-up-000001",
        "upstream_error": f"Incorrect API key provided: {SECRET}",
    }
    record = redact_record(raw)
    assert record["headers"] == {
        "authorization": f"Bearer {MASK}",
        "x-auth-token": MASK,
        "x-moonshot-key": MASK,
        "set-cookie": f"{MASK}, {MASK}",
        "x-thing": f"prefix {MASK}",
        "accept": "application/json",
        "x-request-id": "4f1c2b9e-8d7a-4e3f-9c1b-2a3d4e5f6a7b",
    }
    assert record["client_request_id"] == MASK and record["upstream_request_id"] == "req-up-000001"
    assert record["upstream_error"] == f"Incorrect API key provided: {MASK}"
    assert raw["client_request_id"] == SECRET, "the caller's record is not changed"


def test_the_writer_redacts_every_record_it_is_handed(tmp_path: Path) -> None:
    path = tmp_path / "direct.ndjson"
    request_log = RequestLog()
    request_log.start()
    request_log.emit({"headers": [("X-Auth-Token", SHORT_KEY)], "client_request_id": SECRET}, path)
    request_log.close()
    text = path.read_text()
    assert SHORT_KEY not in text and SECRET not in text
    assert orjson.loads(text)["headers"] == {"x-auth-token": MASK}


def test_the_log_file_names_are_defined_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert log_file_name("kimi") == "kimi-proxy.ndjson"
    default = resolve(provider("kimi"), ProxyOptions(), layers=[]).log_path
    assert default is not None and default.name == log_file_name("kimi")
    assert fnmatch.fnmatch(log_file_name("qwen"), CURRENT_LOG_GLOB)
    assert fnmatch.fnmatch(log_file_name("qwen") + ".3", LOG_GLOB)
    assert not fnmatch.fnmatch(log_file_name("qwen") + ".3", CURRENT_LOG_GLOB)
    (tmp_path / log_file_name("kimi")).write_text('{"time": "2026-01-01T00:00:00Z", "status": 200}\n')
    (tmp_path / (log_file_name("kimi") + ".1")).write_text('{"time": "2025-01-01T00:00:00Z", "status": 500}\nbroken\n')
    records, _ = read_log_records(tmp_path)
    assert [r["status"] for r in records] == [200]  # doctor reads the current logs only
    assert [r.get("status") for r in read_records(log_files(tmp_path))] == [200, 500, None]  # usage: all of them
    monkeypatch.setattr(logfiles, "CURRENT_LOG_GLOB", "*.nothing")
    assert read_log_records(tmp_path)[0] == [], "doctor must take the name from proxy.logfiles"


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "proxy.ndjson"
    handle = RotatingFile(path, max_bytes=100, keep=3)
    for index in range(40):
        handle.write(f'{{"n": {index:03d}, "pad": "{"x" * 20}"}}\n'.encode())
    handle.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["proxy.ndjson", "proxy.ndjson.1", "proxy.ndjson.2", "proxy.ndjson.3"]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    assert '"n": 039' in path.read_text()
    assert '"n": 038' in path.read_text()  # two lines fit in 100 bytes
    assert '"n": 037' in (tmp_path / "proxy.ndjson.1").read_text()
    assert '"n": 033' in (tmp_path / "proxy.ndjson.3").read_text()


def test_rotation_continues_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "proxy.ndjson"
    path.write_bytes(b"x" * 90 + b"\n")
    handle = RotatingFile(path, max_bytes=100, keep=2)
    handle.write(b"y" * 20 + b"\n")
    handle.close()
    assert (tmp_path / "proxy.ndjson.1").read_bytes().startswith(b"x")
    assert path.read_bytes() == b"y" * 20 + b"\n"


def test_emit_never_waits_for_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = threading.Event()
    real_write = RotatingFile.write

    def slow_write(self: RotatingFile, data: bytes) -> None:
        slow.wait(2)
        real_write(self, data)

    monkeypatch.setattr(RotatingFile, "write", slow_write)
    request_log = RequestLog(queue_limit=5)
    request_log.start()
    path = tmp_path / "slow.ndjson"
    started = time.perf_counter()
    for index in range(50):
        request_log.emit({"n": index}, path)
    assert time.perf_counter() - started < 0.05  # 50 records while the disk is stuck
    slow.set()
    request_log.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert 1 <= len(lines) <= 7
    assert sum(line.get("log_lines_dropped", 0) for line in lines) + len(lines) == 50


def test_a_log_file_that_cannot_be_written_is_reported_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    request_log = RequestLog()
    request_log.start()
    for _ in range(3):
        request_log.emit({"n": 1}, folder)  # a folder is not a file
    request_log.close()
    err = capfd.readouterr().err
    assert err.count("cannot write the request log") == 1


def test_console_line() -> None:
    record = {
        "time": "2026-11-25T10:11:12.345Z",
        "status": 200,
        "provider": "kimi",
        "model": "kimi-k2.6[bold]",
        "tool_turn": True,
        "changes": ["temperature 0.1 → 0.6"],
        "total_ms": 1234.5,
    }
    buffer = io.StringIO()
    Console(file=buffer, width=200, force_terminal=False).print(console_line(record))
    line = buffer.getvalue().strip()
    assert line == "10:11:12 200 kimi kimi-k2.6[bold] tools temperature 0.1 → 0.6 1.2 s"
    record.update(status=502, total_ms=12, outcome="upstream_unreachable", tool_turn=False, changes=[])
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(console_line(record))
    assert buffer.getvalue().strip() == "10:11:12 502 kimi kimi-k2.6[bold] chat 12 ms upstream_unreachable"


def test_terminal_only_log_writes_no_file(tmp_path: Path) -> None:
    buffer = io.StringIO()
    request_log = RequestLog(console=Console(file=buffer, width=200))
    request_log.start()
    request_log.emit({"status": 200, "model": "m", "time": "2026-01-01T00:00:00.000Z"}, None)
    request_log.close()
    assert "200" in buffer.getvalue() and list(tmp_path.iterdir()) == []
    assert logs.QUEUE_LIMIT > 0


def test_an_odd_record_never_stops_the_log(tmp_path: Path) -> None:
    path = tmp_path / "odd.ndjson"
    request_log = RequestLog()
    request_log.start()
    request_log.emit({"model": "\ud800", "headers": [("X-Test", "\udcff")]}, path)  # lone surrogates
    request_log.emit({"model": "kimi-k2.6", "unserialisable": object()}, path)
    request_log.emit({"model": "after"}, path)
    request_log.close()
    lines = [orjson.loads(line) for line in path.read_text().splitlines()]
    assert set(lines[0]["model"]) == {"\ufffd"} and lines[-1]["model"] == "after"
    assert len(lines) == 3


def test_the_console_line_never_carries_control_characters() -> None:
    line = logs.console_line(
        {"status": 400, "model": "\x1b]0;PWNED\x07\x1b[2J", "error": "bad\x1b[31m", "outcome": "x"}
    )
    assert "\x1b" not in line and "\x07" not in line
    assert "PWNED" in line


def test_a_long_provider_error_is_masked_before_it_is_cut() -> None:
    message = "x" * 295 + " " + SECRET  # a key straddling the 300-character cut
    out = logs.redact_record({"upstream_error": message})
    assert len(out["upstream_error"]) <= logs.ERROR_TEXT_LIMIT
    assert SECRET[:6] not in out["upstream_error"][290:]


def test_a_compact_credential_header_name_is_masked(tmp_path: Path) -> None:
    out = logs.redact_record({"headers": [("X-AuthToken", "QwErTyUiOpAs"), ("x-apitoken", "hunter2hunter")]})
    assert out["headers"] == {"x-authtoken": MASK, "x-apitoken": MASK}
