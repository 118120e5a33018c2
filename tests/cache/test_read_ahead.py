"""Reading ahead (cache/read_ahead.py): a query executed again reads every cache entry it needs
in one round trip, and sees every change a query without reading ahead would see.

Counted end to end over HTTP (X-Debug-Counts), with whole answers off so that every request
executes, on an app whose cache starts empty; answers are checked against the database.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from cache.read_ahead import ReadAhead
from cache.read_through import NOT_AT_ONCE, CacheSession
from settings import Settings
from telemetry.metrics import CACHE_LOOKUPS, LOADER_BATCH_SIZE
from tests.conftest import (
    GraphQLClient,
    active_shares,
    contract_documents,
    serving,
    shares_by_position,
    unique_prefix,
)
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


def executing(settings: Settings, read_ahead: bool = True) -> Settings:
    return settings.replace(cache_prefix=unique_prefix(), answer_cache=False, read_ahead=read_ahead)


@pytest.mark.parametrize("count", [1, 40])
async def test_a_repeat_reads_in_one_round_trip_and_one_per_level_without(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    count: int,
) -> None:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    variables = {"telegramId": telegram_id}
    costs = {}
    for read_ahead in (True, False):  # False: the control, one round trip per level
        async with serving(executing(settings, read_ahead)) as http:
            gql = GraphQLClient(http)
            cold = await gql(DOCUMENTS, variables, "Portfolio")
            repeats = [await gql(DOCUMENTS, variables, "Portfolio") for _ in range(2)]
        assert all(r.data == cold.data and not r.errors for r in repeats)
        assert len(cold.data["user"]["positions"]) == count
        costs[read_ahead] = [(r.sql, r.redis) for r in (cold, *repeats)]
    # Cold, both: the user, the positions, their markets, each read then filled. Repeated:
    # all three levels in one round trip when read ahead, one round trip each without.
    assert costs == {True: [(3, 6), (0, 1), (0, 1)], False: [(3, 6), (0, 3), (0, 3)]}


def reusing_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: what reading ahead must not be, a request starting on the values the last
    one read (read ahead by name, but not read again) instead of reading them now."""
    last: dict[str, bytes | None] = {}
    read = CacheSession._read

    async def from_last_request(self: CacheSession, items: Any, entries: bool = True) -> Any:
        if self.epoch is None and not self.read_early:
            self.read_early = dict(last)
        result = await read(self, items, entries)
        if result is not None:
            last.update(result[0])
        return result

    monkeypatch.setattr(CacheSession, "_read", from_last_request)


@pytest.mark.parametrize("control", [False, True], ids=["read-ahead", "control"])
async def test_a_price_moved_since_is_seen_in_the_one_round_trip(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    control: bool,
) -> None:
    if control:
        reusing_values(monkeypatch)
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 4)
    variables = {"telegramId": telegram_id}
    async with serving(executing(settings)) as http:
        gql = GraphQLClient(http)
        await gql(DOCUMENTS, variables, "Portfolio")
        before = await gql(DOCUMENTS, variables, "Portfolio")
        held = before.data["user"]["positions"][0]
        market = held["market"]
        moved = [
            str(Decimal("0.123") if name == held["outcome"] else Decimal("0.877"))
            for name in market["outcomes"]
        ]
        update = {"updates": [{"marketId": market["id"], "outcomePrices": moved}]}
        written = await gql(DOCUMENTS, update, "UpdateMarketPrices")
        assert written.errors == []
        assert written.data["updateMarketPrices"]["updated"] == 1
        after = await gql(DOCUMENTS, variables, "Portfolio")
    position = next(p for p in after.data["user"]["positions"] if p["id"] == held["id"])
    if control:  # the old price, served from what the request before read
        assert Decimal(position["currentPrice"]) == Decimal(held["currentPrice"])
        return
    assert Decimal(position["currentPrice"]) == Decimal("0.123")
    assert [Decimal(p) for p in position["market"]["outcomePrices"]] == [Decimal(p) for p in moved]
    # The writer refilled the market under its new version: read in the same one round trip.
    assert (after.sql, after.redis) == (0, 1)


async def test_a_new_position_on_a_new_market_is_seen_then_read_ahead_too(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, 3, per_market=1)
    held = {
        r["market_id"]
        for r in await db.fetch("SELECT market_id FROM position WHERE user_id = $1", user_id)
    }
    new_market = await db.fetchrow(
        "SELECT id, outcomes[1] AS outcome FROM market WHERE active AND NOT resolved"
        " AND outcome_prices IS NOT NULL AND NOT (id = ANY($1::text[])) ORDER BY id DESC LIMIT 1",
        list(held),
    )
    assert new_market is not None
    variables = {"telegramId": telegram_id}
    async with serving(executing(settings)) as http:
        gql = GraphQLClient(http)
        await gql(DOCUMENTS, variables, "Portfolio")
        assert (await gql(DOCUMENTS, variables, "Portfolio")).redis == 1
        trade = {
            "telegramId": telegram_id,
            "marketId": new_market["id"],
            "outcome": new_market["outcome"],
            "side": "BUY",
            "shares": "5",
            "price": "0.5",
        }
        bought = await gql(DOCUMENTS, {"input": trade}, "RecordTrade")
        assert bought.errors == []
        changed = await gql(DOCUMENTS, variables, "Portfolio")
        again = await gql(DOCUMENTS, variables, "Portfolio")
    assert shares_by_position(changed) == await active_shares(db, user_id)  # the new one too
    assert len(changed.data["user"]["positions"]) == 4
    # The new list and the new market were not foreseen: read (and filled) as without reading
    # ahead; the next repeat foresees them.
    assert changed.redis > 1
    assert again.data == changed.data
    assert (again.sql, again.redis) == (0, 1)


def batches() -> dict[str, float]:
    """Loader batches dispatched so far, by loader (the batch-size histogram's counts)."""
    return {
        sample.labels["loader"]: sample.value
        for metric in LOADER_BATCH_SIZE.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
    }


def lookups() -> dict[tuple[str, str], float]:
    """Cache lookups counted so far, by kind and result (polycool_cache_lookups_total)."""
    return {
        (sample.labels["kind"], sample.labels["result"]): sample.value
        for metric in CACHE_LOOKUPS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


@pytest.mark.parametrize("count", [1, 40])
async def test_what_a_repeat_read_ahead_is_answered_at_once_without_a_batch(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    count: int,
) -> None:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    variables = {"telegramId": telegram_id}
    dispatched, answers, counted = {}, {}, {}
    for at_once in (True, False):  # False: the control, every load waits for a batch
        if not at_once:
            monkeypatch.setattr(CacheSession, "at_once", lambda *_: NOT_AT_ONCE)
        async with serving(executing(settings)) as http:
            gql = GraphQLClient(http)
            await gql(DOCUMENTS, variables, "Portfolio")
            before, looked_up = batches(), lookups()
            repeat = await gql(DOCUMENTS, variables, "Portfolio")
            after = batches()
            counted[at_once] = {k: n - looked_up.get(k, 0) for k, n in lookups().items()}
        answers[at_once] = repeat.data
        dispatched[at_once] = {k: n - before.get(k, 0) for k, n in after.items()}
        assert (repeat.sql, repeat.redis) == (0, 1)
    assert answers[True] == answers[False]
    assert len(answers[True]["user"]["positions"]) == count
    # The user's batch reads everything ahead; the positions and their markets then answer
    # at once. Without: a batch for each level, each finding its entries read already.
    # Counted as hits either way, by the request's end.
    markets = len({p["market"]["id"] for p in answers[True]["user"]["positions"]})
    hits = {("user", "hit"): 1, ("user_positions", "hit"): 1, ("market", "hit"): markets}
    assert {k: n for k, n in counted[True].items() if n} == hits
    assert {k: n for k, n in counted[False].items() if n} == hits
    assert {k: n for k, n in dispatched[True].items() if n} == {"user": 1}
    assert {k: n for k, n in dispatched[False].items() if n} == {
        "user": 1,
        "user_positions": 1,
        "market": 1,
    }


def unchecked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: what answering at once must not be, an entry read ahead served without
    checking its token against its version (the check a batch makes, CacheSession._hit)."""
    checked = CacheSession.at_once

    def unchecked_hit(self: CacheSession, version: Any, entry: Any, read: Any) -> Any:
        current, raw = read.get(version), read.get(entry)
        seen = current.decode() if current is not None else ""
        if raw is None:
            return None, seen
        return self.store.decoded.decode(entry, raw, raw.split(b"|", 2)[2]), seen

    def at_once(self: CacheSession, kind: Any, key: Any) -> Any:
        self._hit = unchecked_hit.__get__(self)  # type: ignore[method-assign]
        try:
            return checked(self, kind, key)
        finally:
            del self._hit

    monkeypatch.setattr(CacheSession, "at_once", at_once)


@pytest.mark.parametrize("control", [False, True], ids=["checked", "control"])
async def test_levels_set_since_are_seen_though_the_old_list_was_read_ahead(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    control: bool,
) -> None:
    if control:
        unchecked_at_once(monkeypatch)
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 3)
    variables = {"telegramId": telegram_id}
    async with serving(executing(settings)) as http:
        gql = GraphQLClient(http)
        await gql(DOCUMENTS, variables, "Portfolio")
        before = await gql(DOCUMENTS, variables, "Portfolio")
        held = before.data["user"]["positions"][0]
        assert held["takeProfitPrice"] is None
        levels = {"positionId": held["id"], "takeProfitPrice": "0.97", "stopLossPrice": None}
        written = await gql(DOCUMENTS, levels, "SetTpSl")
        assert written.errors == []
        # The write bumped the list's version and left its entry: the next Portfolio reads
        # the old entry ahead, with the new version.
        after = await gql(DOCUMENTS, variables, "Portfolio")
    position = next(p for p in after.data["user"]["positions"] if p["id"] == held["id"])
    if control:  # the old list, served from what was read ahead
        assert position["takeProfitPrice"] is None
        return
    assert Decimal(position["takeProfitPrice"]) == Decimal("0.97")
    assert after.sql == 1  # the list again, from PostgreSQL


def test_the_names_kept_are_bounded_oldest_query_first_out() -> None:
    kept = ReadAhead(names=5)
    kept.remember(1, ["a", "b"])
    kept.remember(2, ["c", "d"])
    kept.remember(1, ["a", "b", "e"])  # remembered again: replaces, and becomes the newest
    assert (kept.foreseen(1), kept.foreseen(2)) == (("a", "b", "e"), ("c", "d"))
    kept.remember(3, ["f"])  # 6 names: the oldest query, 2, leaves
    assert (kept.foreseen(1), kept.foreseen(2), kept.foreseen(3)) == (("a", "b", "e"), (), ("f",))
    kept.remember(4, list("ghijkl"))  # more than all: not kept, nothing else lost
    assert (kept.foreseen(4), kept.foreseen(3)) == ((), ("f",))
