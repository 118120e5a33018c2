"""Sharding the followed tokens over connections of at most INGEST_TOKENS_PER_CONNECTION.

The placement alone first (limits, stability, compaction), then the whole worker against the
feed stand-in, which, like Polymarket's channel, delivers nothing for the tokens past 500 on one
connection: every token of more than 2,000 ticks through the shards, and (the control) one
connection carrying them all loses the excess; one shard down while the others flow; the shards
following the positions as they open and close.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from decimal import Decimal

import asyncpg
from prometheus_client import REGISTRY

from ingestion.shards import Placement
from settings import Settings
from tests.factories import insert_market, insert_position, insert_user
from tests.ingestion.conftest import running
from tests.ingestion.feed_server import LIMIT, FeedServer, eventually, last_trade

# --- the placement ---------------------------------------------------------------------------


def markets(first: int, count: int, outcomes: int = 2) -> dict[str, list[str]]:
    return {f"m{n:05}": [f"t{n:05}-{i}" for i in range(outcomes)] for n in range(first, count)}


def check(placement: Placement, wanted: dict[str, list[str]]) -> None:
    """Every token on exactly one shard, no shard past the limit, a market's tokens together."""
    carried = [t for s in placement.shards for t in placement.tokens(s)]
    assert sorted(carried) == sorted(t for tokens in wanted.values() for t in tokens)
    assert all(0 < placement.size(s) <= placement.limit for s in placement.shards)
    for tokens in wanted.values():
        if len(tokens) <= placement.limit:
            assert len({s for s in placement.shards if tokens[0] in placement.tokens(s)}) == 1
            assert sum(set(tokens) <= placement.tokens(s) for s in placement.shards) == 1


def test_shards_hold_at_most_the_limit_and_keep_a_market_together() -> None:
    placement = Placement(limit=5)
    wanted = markets(0, 12) | markets(100, 103, outcomes=3)
    placement.update(wanted)
    check(placement, wanted)
    # First fit in market order: the twelve 2-token markets two a shard (one token free in
    # each, too little for a 3-token market), then a shard for each 3-token market.
    assert [placement.size(s) for s in sorted(placement.shards)] == [4] * 6 + [3] * 3


def test_a_new_market_changes_one_shard_and_a_full_set_opens_one_more() -> None:
    placement = Placement(limit=10)
    wanted = markets(0, 14)  # 28 tokens: 10, 10, 8
    placement.update(wanted)
    before = {s: placement.tokens(s) for s in placement.shards}
    assert sorted(len(t) for t in before.values()) == [8, 10, 10]

    wanted |= markets(14, 15)
    placement.update(wanted)
    after = {s: placement.tokens(s) for s in placement.shards}
    assert [s for s in after if after[s] != before.get(s)] == [max(before)]  # the one with room
    check(placement, wanted)

    wanted |= markets(15, 16)
    placement.update(wanted)
    check(placement, wanted)
    new = set(placement.shards) - set(after)
    assert len(new) == 1
    assert {s: placement.tokens(s) for s in after} == after  # the full ones untouched
    assert placement.tokens(new.pop()) == {"t00015-0", "t00015-1"}


def test_leaving_markets_free_room_and_an_empty_shard_closes() -> None:
    placement = Placement(limit=10)
    wanted = markets(0, 15)  # 30 tokens: three full shards
    placement.update(wanted)
    shards = sorted(placement.shards)
    first = placement.tokens(shards[0])
    # The second shard's markets all leave; one of the third's too.
    gone = {m for m, tokens in wanted.items() if set(tokens) <= placement.tokens(shards[1])}
    wanted = {m: t for m, t in wanted.items() if m not in gone and m != "m00014"}
    assert placement.update(wanted) == 0  # nothing moved: 18 tokens still need two shards
    assert sorted(placement.shards) == [shards[0], shards[2]]
    assert placement.tokens(shards[0]) == first
    check(placement, wanted)
    # A new market fills the freed room, not a new shard.
    wanted |= markets(50, 51)
    placement.update(wanted)
    assert sorted(placement.shards) == [shards[0], shards[2]]
    check(placement, wanted)


def test_when_one_shard_fewer_would_do_the_smallest_moves_into_the_others() -> None:
    placement = Placement(limit=10)
    wanted = markets(0, 15)
    placement.update(wanted)
    shards = sorted(placement.shards)
    # Leave 6 tokens on the first shard and 2 on each other: 10 tokens fit in one shard.
    keep = {m for m, t in wanted.items() if set(t) <= placement.tokens(shards[0])}
    keep = set(sorted(keep)[:3])
    keep |= {
        next(m for m, t in wanted.items() if set(t) <= placement.tokens(s)) for s in shards[1:]
    }
    wanted = {m: wanted[m] for m in keep}
    moved = placement.update(wanted)
    assert len(placement.shards) == 1
    assert moved == 4  # the two small shards' markets, not the large one's
    check(placement, wanted)


def test_a_limit_below_a_market_splits_it() -> None:
    placement = Placement(limit=1)
    wanted = markets(0, 3)
    placement.update(wanted)
    assert len(placement.shards) == 6
    assert all(placement.size(s) == 1 for s in placement.shards)


def test_a_random_walk_of_the_set_never_breaks_the_rules() -> None:
    rng = random.Random(12)
    placement = Placement(limit=50)
    universe = markets(0, 400) | markets(1000, 1040, outcomes=3)
    wanted: dict[str, list[str]] = {}
    for _ in range(200):
        for market in rng.sample(sorted(universe), rng.randint(0, 30)):
            if market in wanted:
                del wanted[market]
            else:
                wanted[market] = universe[market]
        placement.update(wanted)
        check(placement, wanted)
        tokens = sum(len(t) for t in wanted.values())
        # Never more than one shard beyond what the set needs (the smallest is compacted).
        assert len(placement.shards) <= max(1, -(-tokens // 50)) + 1 or tokens == 0


# --- the worker against the stand-in ----------------------------------------------------------


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def followed(db: asyncpg.Connection, top: int) -> dict[str, list[str]]:
    """What the worker must follow, by the rule it documents: every market holding an ACTIVE
    position and the `top` most traded open ones, never a resolved one."""
    rows = await db.fetch(
        """
        SELECT id, clob_token_ids FROM market
        WHERE NOT resolved
          AND (id IN (SELECT market_id FROM position WHERE status = 'ACTIVE')
               OR id IN (SELECT id FROM market WHERE active AND NOT resolved
                         ORDER BY volume DESC, id LIMIT $1))
        """,
        top,
    )
    return {r["id"]: list(r["clob_token_ids"]) for r in rows}


async def tick_every_token(
    feed: FeedServer, db: asyncpg.Connection, wanted: dict[str, list[str]], seed: int
) -> dict[str, list[Decimal]]:
    """One last trade per token (yes at p, no at 1 - p); the prices each market should get."""
    rng = random.Random(seed)
    expected: dict[str, list[Decimal]] = {}
    events = []
    for market, (yes, no) in sorted(wanted.items()):
        price = Decimal(rng.randint(1000, 9000)) / 10000
        expected[market] = [price, 1 - price]
        events += [last_trade(yes, str(price)), last_trade(no, str(1 - price))]
    await feed.publish(*events)
    return expected


async def matching(db: asyncpg.Connection, expected: dict[str, list[Decimal]]) -> set[str]:
    rows = await db.fetch(
        "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", list(expected)
    )
    return {r["id"] for r in rows if list(r["outcome_prices"]) == expected[r["id"]]}


async def test_more_than_two_thousand_tokens_all_tick_through_the_shards(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    settings = ingest_settings.replace(ingest_top_markets=1100)
    wanted = await followed(ingest_db, 1100)
    tokens = {t for ts in wanted.values() for t in ts}
    assert len(tokens) > 2000
    assert all(len(ts) == 2 for ts in wanted.values())
    ticks = sample("polycool_ingest_ticks_total")

    async with running(settings) as worker:
        await eventually(lambda: feed.subscribed_open() == tokens, what="every token subscribed")
        # As many connections as the limit needs (one more at most), none past the limit.
        assert len(feed.open()) in (-(-len(tokens) // LIMIT), -(-len(tokens) // LIMIT) + 1)
        assert all(len(feed.subscribed(i)) <= LIMIT for i in feed.open())
        assert len(worker.shards.connections) == len(feed.open())
        assert sample("polycool_ingest_shards") == len(feed.open())
        assert sample("polycool_ingest_connections_open") == len(feed.open())
        assert sample("polycool_ingest_subscribed_tokens") == len(tokens)
        expected = await tick_every_token(feed, ingest_db, wanted, seed=21)

        async def all_written() -> bool:
            return await matching(ingest_db, expected) == set(expected)

        await eventually(all_written, within=10, what="every market's last ticks written")
    assert sample("polycool_ingest_ticks_total") - ticks == len(tokens)
    assert feed.withheld == 0


async def test_control_one_connection_with_every_token_loses_the_excess(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    settings = ingest_settings.replace(ingest_top_markets=1100, ingest_tokens_per_connection=10**6)
    wanted = await followed(ingest_db, 1100)
    tokens = {t for ts in wanted.values() for t in ts}
    ticks = sample("polycool_ingest_ticks_total")
    reconnects = sample("polycool_ingest_reconnects_total")

    async with running(settings):
        await eventually(lambda: feed.subscribed_open() == tokens, what="every token subscribed")
        assert len(feed.open()) == 1
        # The stand-in serves the first 500 tokens of the subscription, in the order sent.
        served = set(feed.messages[0][0]["assets_ids"][:LIMIT])
        moved = {m for m, ts in wanted.items() if served & set(ts)}
        expected = await tick_every_token(feed, ingest_db, wanted, seed=22)

        async def served_written() -> bool:
            return await matching(ingest_db, expected) == moved

        await eventually(served_written, within=10, what="the served tokens' markets written")
        # A few flushes later, nothing more came.
        await asyncio.sleep(5 * settings.ingest_flush_interval)
        delivered = await matching(ingest_db, expected)

    # Only the first 500 tokens subscribed ever ticked, and nothing said so: exactly the
    # markets with a token among them moved, the others never heard of their ticks.
    assert delivered == moved
    assert len(delivered) < len(expected)
    assert sample("polycool_ingest_ticks_total") - ticks == LIMIT
    assert feed.withheld == len(tokens) - LIMIT
    assert sample("polycool_ingest_reconnects_total") == reconnects


async def test_one_shard_down_leaves_the_others_flowing(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    wanted = await followed(ingest_db, ingest_settings.ingest_top_markets)
    tokens = {t for ts in wanted.values() for t in ts}

    async with running(ingest_settings) as worker:
        await eventually(lambda: feed.subscribed_open() == tokens, what="every token subscribed")
        opened = len(feed.connections)
        assert opened >= 2
        carriers = {i: feed.subscribed(i) for i in feed.open()}
        down = feed.open()[0]
        others = {m: t for m, t in wanted.items() if not set(t) & carriers[down]}
        lost = {m: t for m, t in wanted.items() if set(t) <= carriers[down]}

        feed.refusing = True  # the shard's reconnects fail until the feed is back
        feed.drop(down)
        await eventually(lambda: feed.refused >= 1, what="the shard trying to reconnect")
        expected = await tick_every_token(feed, ingest_db, others, seed=23)

        async def others_written() -> bool:
            return await matching(ingest_db, expected) == set(expected)

        await eventually(others_written, what="the other shards' ticks written")
        assert down not in feed.open()
        assert len(feed.connections) == opened  # nobody else reconnected

        feed.refusing = False
        await eventually(
            lambda: len(feed.connections) == opened + 1, within=15, what="the shard back"
        )
        await eventually(lambda: feed.subscribed(-1) == carriers[down], what="resubscribed")
        assert {i: feed.subscribed(i) for i in feed.open()} == {
            **{i: t for i, t in carriers.items() if i != down},
            opened: carriers[down],
        }
        back = await tick_every_token(feed, ingest_db, lost, seed=24)

        async def back_written() -> bool:
            return await matching(ingest_db, back) == set(back)

        await eventually(back_written, what="the shard's ticks written again")
        assert len(worker.shards.connections) == len(carriers)


async def test_shards_follow_the_set_without_reconnecting_the_others(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    user_id = await insert_user(ingest_db, str(7_600_000_000 + secrets.randbelow(10**9)))
    settings = ingest_settings.replace(ingest_tokens_per_connection=400)

    async with running(settings) as worker:
        wanted = await followed(ingest_db, settings.ingest_top_markets)
        tokens = {t for ts in wanted.values() for t in ts}
        await eventually(lambda: feed.subscribed_open() == tokens, what="every token subscribed")
        before = {i: list(feed.messages[i]) for i in feed.open()}
        room = {i: 400 - len(feed.subscribed(i)) for i in before}
        assert all(r >= 0 for r in room.values())
        # Markets of the test's own, enough to fill every shard's room and spill over by one.
        count = sum(r // 2 for r in room.values()) + 1
        new = [
            await insert_market(ingest_db, outcomes=["Yes", "No"], prices=None)
            for _ in range(count)
        ]
        positions = [
            await insert_position(
                ingest_db,
                user_id=user_id,
                market_id=market,
                outcome="Yes",
                shares=Decimal(1),
                entry_price=Decimal("0.5"),
            )
            for market in new
        ]
        grown = await followed(ingest_db, settings.ingest_top_markets)
        grown_tokens = {t for ts in grown.values() for t in ts}
        await eventually(lambda: feed.subscribed_open() == grown_tokens, what="new markets")

        # The shards with room took the new markets on their open connections; one new
        # connection carries the one market that did not fit; nobody reconnected.
        assert len(feed.connections) == len(before) + 1
        assert feed.open() == [*before, len(before)]
        assert len(feed.subscribed(len(before))) == 2
        for i, messages in before.items():
            sent = feed.messages[i][len(messages) :]
            assert all(m.get("operation") == "subscribe" for m in sent)
            assert (len(sent) > 0) == (room[i] >= 2)
        assert all(len(feed.subscribed(i)) <= 400 for i in feed.open())

        # They close again: their tokens are unsubscribed where they were, the extra shard
        # goes, and the first shards' connections stay.
        await ingest_db.execute(
            "UPDATE position SET status = 'CLOSED', shares = 0, closed_at = now() "
            "WHERE id = ANY($1)",
            positions,
        )
        await eventually(lambda: feed.subscribed_open() == tokens, what="back to the first set")
        assert feed.open() == list(before)
        assert {i: feed.subscribed(i) for i in before} == {
            i: {t for m in before[i][:1] for t in m["assets_ids"]} for i in before
        }
        assert len(worker.shards.connections) == len(before)
