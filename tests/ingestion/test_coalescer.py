"""Coalescing: the last tick per token, the complement, the sum check, and what a retry keeps."""

from __future__ import annotations

from decimal import Decimal as D

from ingestion.coalescer import Coalescer, TrackedMarket
from ingestion.feed import Tick

BINARY = TrackedMarket("m2", ("y", "n"), (D("0.5"), D("0.5")))
TERNARY = TrackedMarket("m3", ("a", "b", "c"), (D("0.2"), D("0.3"), D("0.5")))
UNPRICED = TrackedMarket("m3x", ("p", "q", "r"), None)


def coalescer(*markets: TrackedMarket) -> Coalescer:
    c = Coalescer()
    c.track(markets or (BINARY, TERNARY, UNPRICED))
    return c


def test_the_last_tick_of_each_token_wins_and_the_first_arrival_is_kept() -> None:
    c = coalescer()
    c.offer([Tick("y", D("0.4")), Tick("n", D("0.6"))], received_at=1.0)
    c.offer([Tick("y", D("0.45")), Tick("n", D("0.55")), Tick("y", D("0.42"))], received_at=2.0)
    c.offer([Tick("n", D("0.58"))], received_at=3.0)
    batch = c.take()
    assert batch.prices == {"m2": [D("0.42"), D("0.58")]}
    assert batch.first_seen == {"m2": 1.0}
    assert len(c) == 0
    assert c.take().prices == {}


def test_one_ticked_token_of_a_two_outcome_market_sets_the_other_to_its_complement() -> None:
    c = coalescer()
    c.offer([Tick("n", D("0.123"))], received_at=1.0)
    assert c.take().prices == {"m2": [D("0.877"), D("0.123")]}


def test_the_map_holds_only_followed_tokens() -> None:
    c = coalescer()
    c.offer([Tick(f"stranger-{i}", D("0.5")) for i in range(1000)], received_at=1.0)
    c.offer([Tick("y", D("0.5"))] * 1000, received_at=1.0)
    assert len(c) == 1
    c.track([TERNARY])  # the binary market is no longer followed: its pending price goes
    assert len(c) == 0
    assert c.take().prices == {}


def test_a_set_that_does_not_sum_to_about_one_is_refused_and_its_ticks_dropped() -> None:
    c = coalescer()
    c.offer([Tick("y", D("0.6")), Tick("n", D("0.43"))], received_at=1.0)  # 1.03
    batch = c.take()
    assert batch.prices == {}
    assert [market for market, _ in batch.refused] == ["m2"]
    assert "sum to 1.03" in batch.refused[0][1]
    assert batch.first_seen == {}
    assert c.take().refused == []  # dropped, not retried


def test_sums_at_the_bounds_are_accepted() -> None:
    c = coalescer()
    c.offer([Tick("y", D("0.6")), Tick("n", D("0.42"))], received_at=1.0)  # 1.02
    assert c.take().prices == {"m2": [D("0.6"), D("0.42")]}
    c.offer([Tick("y", D("0.5")), Tick("n", D("0.48"))], received_at=1.0)  # 0.98
    assert c.take().prices == {"m2": [D("0.5"), D("0.48")]}


def test_more_outcomes_keep_the_known_prices_of_untouched_ones() -> None:
    c = coalescer()
    c.offer([Tick("b", D("0.28"))], received_at=1.0)
    batch = c.take()
    assert batch.prices == {"m3": [D("0.2"), D("0.28"), D("0.5")]}  # 0.98: within 1 +/- 0.03
    c.written(batch)
    c.offer([Tick("a", D("0.22"))], received_at=2.0)
    assert c.take().prices == {"m3": [D("0.22"), D("0.28"), D("0.5")]}
    c.offer([Tick("c", D("0.45"))], received_at=3.0)  # 0.95 with the others: refused
    assert [m for m, _ in c.take().refused] == ["m3"]


def test_more_outcomes_without_known_prices_are_refused_until_all_tick() -> None:
    c = coalescer()
    c.offer([Tick("p", D("0.3"))], received_at=1.0)
    assert [m for m, _ in c.take().refused] == ["m3x"]
    c.offer([Tick("p", D("0.3")), Tick("q", D("0.3")), Tick("r", D("0.4"))], received_at=2.0)
    assert c.take().prices == {"m3x": [D("0.3"), D("0.3"), D("0.4")]}


def test_a_failed_flush_puts_its_prices_back_but_newer_ticks_win() -> None:
    c = coalescer()
    c.offer([Tick("y", D("0.4")), Tick("a", D("0.2")), Tick("b", D("0.3"))], received_at=1.0)
    failed = c.take()
    c.offer([Tick("y", D("0.45"))], received_at=2.0)  # arrived during the failed flush
    c.restore(failed)
    retry = c.take()
    assert retry.prices == {"m2": [D("0.45"), D("0.55")], "m3": [D("0.2"), D("0.3"), D("0.5")]}
    # The lag still counts from the first tick the failed flush could not write.
    assert retry.first_seen == {"m2": 1.0, "m3": 1.0}


def test_a_refused_market_is_not_put_back() -> None:
    c = coalescer()
    c.offer([Tick("y", D("0.9")), Tick("n", D("0.9"))], received_at=1.0)
    failed = c.take()
    c.restore(failed)
    assert len(c) == 0
