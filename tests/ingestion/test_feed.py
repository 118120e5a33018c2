"""Frames to ticks: the priced kinds, the midpoint rule, resolutions, arrays, garbage survived."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion.feed import Resolved, Tick, parse_frame
from tests.ingestion.feed_server import (
    best_bid_ask,
    book,
    frame,
    last_trade,
    market_resolved,
    new_market,
    price_change,
)

YES = "60487116984468020978247225474488676749601001829886755968952521846780452448915"
NO = "81104637750588840860328515305303028259865221573278091453716127842023614249200"


def test_price_change_takes_the_midpoint_of_best_bid_and_ask_else_the_price() -> None:
    parsed = parse_frame(frame(price_change((YES, "0.5", "0.5", "0.52"), (NO, "0.48", None, None))))
    assert parsed.ticks == [Tick(YES, Decimal("0.51")), Tick(NO, Decimal("0.48"))]
    assert parsed.malformed == 0


def test_an_empty_best_bid_falls_back_to_the_price() -> None:
    parsed = parse_frame(frame(price_change((YES, "0.47", "", "0.52"))))
    assert parsed.ticks == [Tick(YES, Decimal("0.47"))]


def test_book_is_the_midpoint_of_highest_bid_and_lowest_ask_without_leading_zeros() -> None:
    parsed = parse_frame(frame(book(YES, [".46", ".48", ".47"], [".55", ".52", ".6"])))
    assert parsed.ticks == [Tick(YES, Decimal("0.50"))]


def test_a_book_with_an_empty_side_has_no_price() -> None:
    parsed = parse_frame(frame(book(YES, [], [".52"]), book(NO, [".48"], [])))
    assert (parsed.ticks, parsed.malformed) == ([], 0)


def test_last_trade_price_is_its_price() -> None:
    assert parse_frame(frame(last_trade(NO, "0.456"))).ticks == [Tick(NO, Decimal("0.456"))]


def test_an_array_keeps_the_order_of_its_events_and_other_kinds_are_ignored() -> None:
    parsed = parse_frame(
        frame(
            last_trade(YES, "0.4"),
            {"event_type": "tick_size_change", "asset_id": YES, "new_tick_size": "0.001"},
            price_change((YES, "0.41", None, None)),
            book(NO, ["0.58"], ["0.6"]),
        )
    )
    assert parsed.ticks == [
        Tick(YES, Decimal("0.4")),
        Tick(YES, Decimal("0.41")),
        Tick(NO, Decimal("0.59")),
    ]
    assert parsed.malformed == 0


def test_a_midpoint_beyond_twelve_decimals_is_rounded_to_the_stored_scale() -> None:
    parsed = parse_frame(frame(price_change((YES, "0.5", "0.000000000001", "0.000000000002"))))
    assert parsed.ticks == [Tick(YES, Decimal("0.000000000002"))]  # 1.5e-12, half to even


@pytest.mark.parametrize(
    ("raw", "malformed"),
    [
        ("not json", 1),
        (b"\xff\xfe\x00", 1),
        ("", 1),
        ("42", 1),
        ("[1, 2, null]", 3),
        ('{"no_event_type": true}', 1),
        ('{"event_type": "price_change"}', 1),
        ('{"event_type": "price_change", "price_changes": [{"price": "0.5"}]}', 1),
        ('{"event_type": "book", "asset_id": "1", "bids": "x", "asks": []}', 1),
        ('{"event_type": "book", "asset_id": "1", "bids": [3], "asks": []}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": 0.5}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": "abc"}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": "NaN"}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": "-0.1"}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": "1.5"}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "1", "price": "1e999999"}', 1),
        ('{"event_type": "last_trade_price", "asset_id": "", "price": "0.5"}', 1),
        ('{"event_type": "best_bid_ask", "asset_id": "1", "best_bid": "0.4", "best_ask": "2"}', 1),
        ('{"event_type": "best_bid_ask", "asset_id": "1", "best_bid": 0.4, "best_ask": "0.5"}', 1),
        ('{"event_type": "best_bid_ask", "best_bid": "0.4", "best_ask": "0.5"}', 1),
        ('{"event_type": "market_resolved", "winning_asset_id": "1"}', 1),
        ('{"event_type": "market_resolved", "market": "0xab"}', 1),
        ('{"event_type": "market_resolved", "market": "0xab", "winning_asset_id": 1}', 1),
        (
            '{"event_type": "market_resolved", "market": "0xab", "winning_asset_id": "1", '
            '"assets_ids": "1,2"}',
            1,
        ),
    ],
)
def test_garbage_is_counted_never_raised(raw: str | bytes, malformed: int) -> None:
    parsed = parse_frame(raw)
    assert (parsed.ticks, parsed.resolutions, parsed.malformed) == ([], [], malformed)
    assert parsed.problem


def test_a_bad_event_spoils_only_itself() -> None:
    parsed = parse_frame(
        "["
        + frame(last_trade(YES, "0.3"))
        + ', {"event_type": "last_trade_price", "asset_id": "1", "price": "x"}, '
        + frame(price_change((NO, "0.7", None, None), (YES, "bad", None, None)))
        + ", "
        + frame(last_trade(NO, "0.69"))
        + "]"
    )
    # The price_change with one bad entry is dropped whole; the other events stand.
    assert parsed.ticks == [Tick(YES, Decimal("0.3")), Tick(NO, Decimal("0.69"))]
    assert parsed.malformed == 2


def test_best_bid_ask_is_the_midpoint_and_an_empty_side_has_none() -> None:
    parsed = parse_frame(
        frame(
            best_bid_ask(YES, "0.73", "0.77"),
            best_bid_ask(NO, ".2", ".25"),
            best_bid_ask(NO, "", "0.3"),
        )
    )
    assert parsed.ticks == [Tick(YES, Decimal("0.75")), Tick(NO, Decimal("0.225"))]
    assert parsed.malformed == 0


def test_market_resolved_is_a_resolution_and_new_market_is_ignored() -> None:
    condition = "0x" + "cd" * 32
    parsed = parse_frame(
        frame(
            new_market(condition, [YES, NO]),
            market_resolved(condition, [YES, NO], NO, "No"),
            market_resolved(condition, [YES, NO], YES),
        )
    )
    assert parsed.resolutions == [
        Resolved(condition, NO, "No", (YES, NO)),
        Resolved(condition, YES, None, (YES, NO)),
    ]
    assert (parsed.ticks, parsed.malformed) == ([], 0)
