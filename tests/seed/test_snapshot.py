import json
import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seed.load import DEFAULT_SNAPSHOT
from seed.snapshot import Snapshot, read_snapshot

CONDITION_ID = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return read_snapshot(DEFAULT_SNAPSHOT)


def test_reads_every_market_but_the_broken_one(snapshot: Snapshot) -> None:
    assert len(snapshot.markets) == 2999
    [(market_id, reason)] = snapshot.skipped
    assert market_id == "502517"
    assert "condition_id" in reason
    assert "502517" not in {market.id for market in snapshot.markets}


def test_logs_the_skipped_market(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="seed.snapshot"):
        read_snapshot(DEFAULT_SNAPSHOT)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "502517" in record.getMessage()


def test_keeps_named_outcomes_as_spelled(snapshot: Snapshot) -> None:
    named = {tuple(market.outcomes) for market in snapshot.markets} - {("Yes", "No")}
    assert ("Celtics", "Knicks") in named
    assert ("Knicks", "Celtics") in named
    assert ("Over", "Under") in named


def test_prices_are_decimals_aligned_with_outcomes(snapshot: Snapshot) -> None:
    for market in snapshot.markets:
        assert market.outcome_prices is not None
        assert len(market.outcome_prices) == len(market.outcomes) == len(market.clob_token_ids)
        assert all(type(price) is Decimal and 0 <= price <= 1 for price in market.outcome_prices)
        assert type(market.volume) is Decimal
        assert type(market.liquidity) is Decimal
    first = next(market for market in snapshot.markets if market.id == "516706")
    assert first.outcome_prices == [Decimal("0.0315"), Decimal("0.9685")]


def test_converts_dates_and_flags(snapshot: Snapshot) -> None:
    assert snapshot.taken_at == datetime.fromisoformat("2025-09-25T20:54:42.303279+00:00")
    end_dates = [market.end_date for market in snapshot.markets]
    assert sum(end_date is None for end_date in end_dates) == 54
    assert all(end_date.tzinfo is not None for end_date in end_dates if end_date is not None)
    assert sum(market.active for market in snapshot.markets) == 2160
    assert not any(market.resolved for market in snapshot.markets)


def good_row(market_id: str, condition_id: str = CONDITION_ID) -> dict[str, Any]:
    return {
        "id": market_id,
        "question": f"Market {market_id}?",
        "slug": f"market-{market_id}",
        "condition_id": condition_id,
        "end_date": "2025-12-31T12:00:00Z",
        "volume": 1234.5,
        "liquidity": 0.1,
        "outcomes": '["Yes", "No"]',
        "outcome_prices": '["0.25", "0.75"]',
        "clob_token_ids": '["111", "222"]',
        "tradeable": True,
    }


def write_snapshot(path: Path, rows: list[Any]) -> Path:
    metadata = {"last_updated": "2025-09-25T20:54:42+00:00"}
    path.write_text(json.dumps({"metadata": metadata, "markets": rows}))
    return path


def test_skips_only_the_row_with_a_malformed_array(tmp_path: Path) -> None:
    broken = good_row("2", condition_id="0x" + "cd" * 32) | {"outcomes": '["Yes", "No"'}
    rows = [good_row("1"), broken, good_row("3", condition_id="0x" + "ef" * 32)]
    snapshot = read_snapshot(write_snapshot(tmp_path / "snapshot.json", rows))
    assert [market.id for market in snapshot.markets] == ["1", "3"]
    [(market_id, reason)] = snapshot.skipped
    assert market_id == "2"
    assert "outcomes is not a valid JSON array" in reason
    market = snapshot.markets[0]
    assert market.volume == Decimal("1234.5")
    assert market.liquidity == Decimal("0.1")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"condition_id": "0xABC"}, "condition_id"),
        ({"outcomes": '["Yes"]', "outcome_prices": "[]", "clob_token_ids": '["1"]'}, "at least 2"),
        ({"outcomes": '["Yes", "Yes"]'}, "repeat"),
        ({"clob_token_ids": '["111"]'}, "clob_token_ids has 1 entries"),
        ({"outcome_prices": '["0.5"]'}, "outcome_prices has 1 entries"),
        ({"outcome_prices": '["1.5", "-0.5"]'}, "outside [0, 1]"),
        ({"outcome_prices": '["0.1234567890123", "0.8765432109877"]'}, "more than 12 decimals"),
        ({"outcome_prices": '["NaN", "0.5"]'}, "not a finite number"),
        ({"volume": -1.0}, "volume"),
        ({"liquidity": None}, "liquidity"),
        ({"end_date": "2025-12-31T12:00:00"}, "no time zone"),
        ({"end_date": "soon"}, "ISO 8601"),
        ({"tradeable": "yes"}, "tradeable"),
        ({"question": ""}, "question is empty"),
    ],
)
def test_reports_why_a_row_is_skipped(tmp_path: Path, change: dict[str, Any], reason: str) -> None:
    rows = [good_row("1") | change]
    snapshot = read_snapshot(write_snapshot(tmp_path / "snapshot.json", rows))
    assert snapshot.markets == []
    [(market_id, why)] = snapshot.skipped
    assert market_id == "1"
    assert reason in why


def test_accepts_empty_prices_as_none(tmp_path: Path) -> None:
    rows = [good_row("1") | {"outcome_prices": []}, good_row("2", "0x" + "cd" * 32)]
    rows[1]["outcome_prices"] = "[]"
    snapshot = read_snapshot(write_snapshot(tmp_path / "snapshot.json", rows))
    assert [market.outcome_prices for market in snapshot.markets] == [None, None]
    assert snapshot.skipped == []


def test_skips_duplicates_and_rows_that_are_not_objects(tmp_path: Path) -> None:
    rows = [good_row("1"), good_row("1", "0x" + "cd" * 32), good_row("2"), "market 3"]
    snapshot = read_snapshot(write_snapshot(tmp_path / "snapshot.json", rows))
    assert [market.id for market in snapshot.markets] == ["1"]
    assert [market_id for market_id, _ in snapshot.skipped] == ["1", "2", "<row 3>"]
    assert "duplicate id" in snapshot.skipped[0][1]
    assert "duplicate condition_id" in snapshot.skipped[1][1]


def test_refuses_a_file_without_markets(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text('{"metadata": {}}')
    with pytest.raises(ValueError, match="'markets'"):
        read_snapshot(path)
