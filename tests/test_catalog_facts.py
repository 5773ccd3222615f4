"""Catalog facts beyond limits: time-of-day prices, unknown prices, sources, split output limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ccendpoint.catalog import load_catalog
from ccendpoint.catalog.cost import is_peak, price_factor, session_cost, tokens_cost
from ccendpoint.cli import app
from ccendpoint.errors import CatalogError
from ccendpoint.usage import aggregate

FIXTURE = Path(__file__).parent / "fixtures" / "catalog" / "clockwork.yaml"
CATALOG = load_catalog([FIXTURE])
PROVIDER = CATALOG.provider("clockwork")
assert PROVIDER is not None
PEAKY = PROVIDER.model("cw-peaky")
assert PEAKY is not None and PEAKY.pricing is not None and PEAKY.pricing.peak is not None
runner = CliRunner()

# 2026-11-30 is a Monday
MONDAY = datetime(2026, 11, 30, tzinfo=timezone.utc)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day_offset, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("when", "peak"),
    [
        (at(0, 1), True),  # a window starts
        (at(0, 3, 59), True),
        (at(0, 4), False),  # and ends (exclusive)
        (at(0, 5, 30), False),  # between the two windows
        (at(0, 9, 59), True),
        (at(0, 10), False),
        (at(4, 2), True),  # Friday
        (at(5, 2), False),  # Saturday: off-peak all day
        (at(6, 7), False),  # Sunday
        # 10:30 in Beijing on Monday is 02:30 UTC: peak
        (datetime(2026, 11, 30, 10, 30, tzinfo=timezone(timedelta(hours=8))), True),
        # 23:30 on Sunday in New York is 04:30 UTC on Monday: off-peak
        (datetime(2026, 11, 29, 23, 30, tzinfo=timezone(timedelta(hours=-5))), False),
    ],
)
def test_peak_windows_are_read_in_utc(when: datetime, peak: bool) -> None:
    assert PEAKY.pricing is not None and PEAKY.pricing.peak is not None
    assert is_peak(PEAKY.pricing.peak, when) is peak


def test_a_request_costs_the_rate_in_force_when_it_was_made() -> None:
    pricing = PEAKY.pricing
    assert pricing is not None
    peak_cost = tokens_cost(pricing, 1_000_000, 100_000, 400_000, at=at(0, 2))
    off_cost = tokens_cost(pricing, 1_000_000, 100_000, 400_000, at=at(0, 12))
    # 600K uncached at $2 + 400K cached at $0.50 + 100K out at $10
    assert peak_cost == pytest.approx(1.2 + 0.2 + 1.0)
    assert off_cost == pytest.approx(peak_cost / 2)
    assert tokens_cost(pricing, 1_000_000, 100_000, 400_000) == pytest.approx(peak_cost)  # no time: listed
    assert price_factor(pricing, None) == 1.0


def test_usage_prices_each_logged_request_by_its_own_time() -> None:
    def record(when: datetime, prompt: int, completion: int) -> dict[str, Any]:
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        return {"time": when.isoformat(), "provider": "clockwork", "model": "cw-peaky", "usage": usage}

    records = [record(at(0, 2), 1_000_000, 0), record(at(0, 11), 1_000_000, 0), record(at(0, 12), 0, 100_000)]
    report = aggregate(records, CATALOG)
    (row,) = report.rows
    assert row.cost == pytest.approx(2.0 + 1.0 + 0.5)
    assert row.off_peak == 2
    assert report.totals().off_peak == 2


def test_list_cost_shows_the_off_peak_session_next_to_the_peak_one() -> None:
    result = runner.invoke(app, ["--catalog", str(FIXTURE), "list", "clockwork", "--cost"])
    assert result.exit_code == 0, result.output
    full = session_cost(PEAKY.pricing)
    assert full is not None
    assert f"${full:.2f} (off-peak ${full / 2:.2f})" in result.stdout
    assert "off-peak cost follows" in result.stdout
    rows = json.loads(runner.invoke(app, ["--catalog", str(FIXTURE), "list", "clockwork", "--json"]).stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id["cw-peaky"]["session_cost_off_peak"] == pytest.approx(full / 2)
    assert by_id["cw-peaky"]["pricing"]["peak"]["hours_utc"] == ["01:00-04:00", "06:00-10:00"]
    assert by_id["cw-mystery"]["pricing"] is None and by_id["cw-mystery"]["session_cost_off_peak"] is None


def test_show_says_what_is_unknown_assumed_and_where_facts_come_from() -> None:
    result = runner.invoke(app, ["--catalog", str(FIXTURE), "show", "clockwork"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "price unknown" in text  # cw-mystery has no price
    assert "assumed, not sourced (conservative defaults): vision, thinking" in text
    assert "source: https://clockwork.test/models" in text
    assert "price source: https://clockwork.test/pricing" in text
    assert "peak Mon–Fri 01:00–04:00 and 06:00–10:00 UTC; off-peak 50%" in text
    assert "add writes maxOutputTokens 8,000; the provider allows up to 64,000 (64K)." in text
    assert "Larger budgets break the client." in text
    assert "provider default output when a request sets none: 16,000" in text


def _broken(tmp_path: Path, change: Any) -> str:
    doc = yaml.safe_load(FIXTURE.read_text("utf-8"))
    change(doc)
    path = tmp_path / "clockwork.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["models"][0].update(output_limit=4000), "models[0].output_limit: 4000 is below max_output 8000"),
        (lambda d: d["models"][0].pop("max_output_why"), "models[0].max_output_why: say why add writes less"),
        (
            lambda d: d["models"][0]["pricing"]["peak"].update(hours_utc=["10:00-06:00"]),
            "models[0].pricing.peak.hours_utc[0]: '10:00-06:00' ends before it starts",
        ),
    ],
)
def test_inconsistent_facts_are_refused(tmp_path: Path, change: Any, expected: str) -> None:
    assert expected in _broken(tmp_path, change)
