"""``ccendpoint usage``: aggregation over proxy log records, and the command on a real log folder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, FOLDER, fixture_catalog
from ccendpoint import dirs
from ccendpoint.catalog import load_catalog
from ccendpoint.cli import app
from ccendpoint.errors import UsageError
from ccendpoint.usage import aggregate, bar, parse_since

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def record(hours_ago: float, model: str, provider: str = "orbit", **usage: int) -> dict[str, Any]:
    when = (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    out: dict[str, Any] = {"time": when, "provider": provider, "model": model, "status": 200}
    if usage:
        out["usage"] = usage
    return out


def test_rows_per_day_and_model_with_catalog_prices() -> None:
    records = [
        record(1, "orbit-flash", prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=400_000),
        record(2, "orbit-flash", prompt_tokens=0, completion_tokens=0),
        record(3, "orbit-flash"),  # no usage in the answer
        record(30, "orbit-pro", prompt_tokens=10_000, completion_tokens=2_000),
        record(40, "orbit-unknown", prompt_tokens=10, completion_tokens=10),
    ]
    report = aggregate(records, fixture_catalog())
    by_key = {(r.day, r.model): r for r in report.rows}
    today = by_key[("2026-11-25", "orbit-flash")]
    assert (today.requests, today.with_usage, today.without_usage) == (3, 2, 1)
    # 600K uncached at $0.50 + 400K cached at $0.10 + 100K out at $2.00
    assert today.cost == pytest.approx(0.6 * 0.50 + 0.4 * 0.10 + 0.1 * 2.00)
    assert today.price_date == "2026-11-03"
    assert by_key[("2026-11-24", "orbit-pro")].cost == pytest.approx(0.01 * 3 + 0.002 * 15)
    assert by_key[("2026-11-23", "orbit-unknown")].cost is None
    totals = report.totals()
    assert totals.requests == 5 and totals.without_usage == 1
    assert totals.cost == pytest.approx(today.cost + by_key[("2026-11-24", "orbit-pro")].cost)


def test_usage_spellings_of_different_providers() -> None:
    from ccendpoint.usage import usage_numbers

    openai_style = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "prompt_tokens_details": {"cached_tokens": 40},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    assert usage_numbers(openai_style) == {
        "prompt_tokens": 100,
        "cached_tokens": 40,
        "completion_tokens": 50,
        "reasoning_tokens": 30,
    }
    deepseek_style = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64}
    assert usage_numbers(deepseek_style)["cached_tokens"] == 64
    assert usage_numbers({"prompt_tokens": -3, "completion_tokens": "x"})["prompt_tokens"] == 0


def test_filters_by_time_and_provider_and_skips_broken_lines() -> None:
    records = [record(1, "orbit-pro"), record(100, "orbit-pro"), record(1, "cw-peaky", provider="clockwork")]
    records += [{}, {"x": 1}]
    report = aggregate(records, fixture_catalog(), since=NOW - timedelta(days=1), provider="orbit")
    assert [(r.model, r.requests) for r in report.rows] == [("orbit-pro", 1)]
    assert report.skipped_lines == 2


def test_parse_since() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match="Cannot read --since"):
        parse_since("last tuesday", NOW)


def test_bar_scales_to_the_largest_value() -> None:
    assert bar(10, 10, width=10) == "█" * 10
    assert bar(5, 10, width=10) == "█" * 5
    assert bar(0, 10) == "" and bar(1, 0) == ""
    assert 0 < len(bar(0.001, 10, width=10)) <= 1  # tiny but visible


def _write_logs(folder: Path, records: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    half = len(records) // 2
    (folder / "orbit-proxy.ndjson.1").write_text("".join(json.dumps(r) + "\n" for r in records[:half]))
    (folder / "orbit-proxy.ndjson").write_text("".join(json.dumps(r) + "\n" for r in records[half:]) + '{"truncated": ')


def test_usage_command_reads_the_log_folder() -> None:
    now = datetime.now(timezone.utc)
    records = [
        {"time": (now - timedelta(hours=h)).isoformat(), "provider": "orbit", "model": "orbit-flash", "usage": u}
        for h, u in ((1, {"prompt_tokens": 5000, "completion_tokens": 700}), (2, {"prompt_tokens": 100}))
    ] + [{"time": now.isoformat(), "provider": "orbit", "model": "orbit-flash", "status": 502}]
    _write_logs(dirs.log_dir(), records)
    result = CliRunner().invoke(app, [*CATALOG_ARGS, "usage", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["requests"] == 3
    assert data["totals"]["without_usage"] == 1
    assert data["totals"]["input_tokens"] == 5100
    # 5,100 in at $0.50 + 700 out at $2.00 per 1M
    assert data["totals"]["cost"] == pytest.approx((5100 * 0.50 + 700 * 2.00) / 1e6)
    assert data["skipped_lines"] == 1
    table = " ".join(CliRunner().invoke(app, [*CATALOG_ARGS, "usage"]).stdout.split())
    assert "orbit-flash" in table and "5,100" in table and "█" in table
    assert "Prices from the catalog: orbit-flash as of 2026-11-03" in table
    assert "had no usage" in table


def test_usage_without_logs_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["usage", "--log", str(tmp_path)])
    assert result.exit_code == 0
    assert "No proxy logs" in result.stdout


def test_usage_unknown_provider_is_exit_2() -> None:
    result = CliRunner().invoke(app, [*CATALOG_ARGS, "usage", "--provider", "orbitt"])
    assert result.exit_code == 2 and "Did you mean orbit?" in result.stderr


def test_names_from_the_log_are_never_read_as_markup() -> None:
    now = datetime.now(timezone.utc).isoformat()
    _write_logs(dirs.log_dir(), [{"time": now, "provider": "kimi", "model": "[/bad] [bold]x", "usage": {}}] * 2)
    result = CliRunner().invoke(app, ["usage"])
    assert result.exit_code == 0, result.stderr
    assert "[/bad] [bold]x" in result.stdout


def test_huge_durations_are_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["usage", "--since", "999999999d"])
    assert result.exit_code == 2
    assert "Cannot read --since" in result.stderr and "Traceback" not in result.stderr


def test_costs_in_different_currencies_are_not_added_up(tmp_path: Path) -> None:
    overlay = tmp_path / "orbit-cny.yaml"
    overlay.write_text(
        "id: orbit\nextends: true\nmodels:\n  - id: orbit-lite\n"
        "    pricing: {input: 10, output: 20, currency: CNY, date: '2026-11-01'}\n"
    )
    catalog = load_catalog([FOLDER, overlay])
    records = [record(1, "orbit-flash", prompt_tokens=1000, completion_tokens=10)]
    records.append(record(1, "orbit-lite", prompt_tokens=1000, completion_tokens=10))
    totals = aggregate(records, catalog).totals()
    assert totals.cost is None and totals.currency == "mixed"
    single = aggregate(records[:1], catalog).totals()
    assert single.cost is not None and single.currency == "USD"
