"""The whole worker against a local feed that replays events built from the real token ids.

Each test starts a FeedServer on 127.0.0.1 and a worker pointed at it (tests/ingestion/
conftest.py), sends frames, and waits (bounded) for the database, the trigger stream or the
server's record of what the worker sent.
"""

from __future__ import annotations

import random
import secrets
from decimal import Decimal
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from ingestion.worker import Worker
from settings import Settings
from tests.ingestion.conftest import (
    Followed,
    TriggerReader,
    followed_markets,
    prices_of,
    running,
)
from tests.ingestion.feed_server import (
    FeedServer,
    book,
    both,
    eventually,
    frame,
    last_trade,
    price_change,
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def every_shard_subscribed(feed: FeedServer, worker: Worker) -> None:
    """Wait until the worker follows its markets and every shard's connection subscribed."""
    await eventually(
        lambda: worker.shards.tokens and feed.subscribed_open() == worker.shards.tokens,
        what="every shard subscribed",
    )


async def subscribed(feed: FeedServer, markets: list[Followed]) -> None:
    """Wait until the worker's open connections carry these markets' tokens."""
    tokens = {token for market in markets for token in (market.yes, market.no)}
    await eventually(lambda: tokens <= feed.subscribed_open(), what="subscribed")


async def deliver(
    feed: FeedServer, worker: Worker, ticks: int, *frames: list[dict[str, Any]]
) -> None:
    """Publish frames (lists of events) holding `ticks` ticks; return once the worker has read
    and taken them all."""
    before = sample("polycool_ingest_ticks_total")
    for events in frames:
        await feed.publish(*events)
    await eventually(lambda: sample("polycool_ingest_ticks_total") - before == ticks, what="read")
    await eventually(lambda: len(worker.coalescer) == 0, what="taken by a flush")


async def test_final_prices_equal_the_last_tick_of_each_token(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    markets = await followed_markets(ingest_db, 12)
    rng = random.Random(4)
    expected: dict[str, list[Decimal]] = {}
    ticks_before = sample("polycool_ingest_ticks_total")
    coalesced_before = sample("polycool_ingest_ticks_coalesced_total")
    flushes_before = sample("polycool_ingest_flush_statements_count")
    two_or_less_before = sample("polycool_ingest_flush_statements_bucket", le="2.0")

    async with running(ingest_settings) as worker:
        await subscribed(feed, markets)
        sent = 0
        for _ in range(5):
            frames: list[list[dict[str, Any]]] = []
            burst_ticks = 0
            for _ in range(40):
                market = rng.choice(markets)
                yes = Decimal(rng.randint(50, 950)) / 1000
                kind = rng.randrange(4)
                if kind == 0:
                    frames.append([both(market.yes, market.no, yes, Decimal("0.005"))])
                elif kind == 1:
                    frames.append([last_trade(market.no, str(1 - yes))])
                elif kind == 2:
                    bid, ask = str(yes - Decimal("0.01")), str(yes + Decimal("0.01"))
                    frames.append([book(market.yes, [bid.lstrip("0")], [ask])])
                else:  # an array: the same market moved twice in one frame
                    frames.append(
                        [
                            last_trade(market.yes, str(yes)),
                            price_change((market.yes, str(yes), None, None)),
                        ]
                    )
                burst_ticks += 2 if kind in (0, 3) else 1
            sent += burst_ticks
            await deliver(feed, worker, burst_ticks, *frames)
        # The last word for every market: both tokens in one event, so the final set is exact.
        finals = []
        for market in markets:
            yes = Decimal(rng.randint(50, 950)) / 1000
            finals.append(both(market.yes, market.no, yes, Decimal("0.005")))
            expected[market.id] = [yes, 1 - yes]
        await feed.publish(*finals)
        sent += 2 * len(markets)

        async def settled() -> bool:
            return await prices_of(ingest_db, list(expected)) == expected

        await eventually(settled, what="the last ticks written")

    assert sample("polycool_ingest_ticks_total") - ticks_before == sent
    assert sample("polycool_ingest_ticks_coalesced_total") - coalesced_before > 0
    # Every flush of the run: at most two statements (prices, then TP/SL).
    flushes = sample("polycool_ingest_flush_statements_count") - flushes_before
    two_or_less = sample("polycool_ingest_flush_statements_bucket", le="2.0") - two_or_less_before
    assert flushes >= 6
    assert two_or_less == flushes


async def test_a_take_profit_and_a_stop_loss_crossing_are_each_reported_once(
    feed: FeedServer,
    ingest_settings: Settings,
    ingest_db: asyncpg.Connection,
    stream: TriggerReader,
) -> None:
    up, down = await followed_markets(ingest_db, 2)
    user_id = await ingest_db.fetchval(
        "INSERT INTO app_user (telegram_id) VALUES ($1) RETURNING id",
        7_800_000_000 + secrets.randbelow(10**9),
    )
    take, stop = [
        await ingest_db.fetchval(
            f"""
            INSERT INTO position (user_id, market_id, outcome, shares, entry_price, {level})
            SELECT $1, id, outcomes[$3], 10, 0.5, $4 FROM market WHERE id = $2
            RETURNING id
            """,
            user_id,
            market_id,
            outcome,
            Decimal(price),
        )
        for level, market_id, outcome, price in [
            ("take_profit_price", up.id, 1, "0.8"),  # Yes of `up` reaches 0.8
            ("stop_loss_price", down.id, 2, "0.2"),  # No of `down` falls to 0.2
        ]
    ]

    async with running(ingest_settings) as worker:
        await subscribed(feed, [up, down])
        await deliver(feed, worker, 2, [both(up.yes, up.no, Decimal("0.6"), Decimal("0.01"))])
        # Crossed, and crossed again over several flushes: the level fires on the first only.
        for yes in ("0.81", "0.85", "0.9", "0.82"):
            await deliver(feed, worker, 2, [last_trade(up.yes, yes), last_trade(down.no, "0.15")])

        async def delivered() -> bool:
            return len(await stream.entries()) >= 2

        await eventually(delivered, what="both triggers on the stream")

    entries = await stream.entries()
    assert [(e["position_id"], e["kind"], e["price"]) for e in entries] == [
        (str(take), "TAKE_PROFIT", "0.81"),
        (str(stop), "STOP_LOSS", "0.15"),
    ]
    assert {e["user_id"] for e in entries} == {str(user_id)}
    levels = await ingest_db.fetch(
        "SELECT take_profit_price, stop_loss_price FROM position WHERE id = ANY($1) ORDER BY id",
        [take, stop],
    )
    assert [tuple(r) for r in levels] == [(None, None), (None, None)]
    # Relayed and acknowledged: the worker's last flush deleted its receipts.
    assert (
        await ingest_db.fetchval(
            "SELECT count(*) FROM trigger_outbox WHERE position_id = ANY($1)", [take, stop]
        )
        == 0
    )


async def test_a_dropped_connection_is_resumed_with_its_subscriptions(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    [market] = await followed_markets(ingest_db, 1)
    reconnects = sample("polycool_ingest_reconnects_total")

    async with running(ingest_settings) as worker:
        await subscribed(feed, [market])
        await every_shard_subscribed(feed, worker)
        [carrier] = [i for i in feed.open() if market.yes in feed.subscribed(i)]
        first = feed.subscribed(carrier)
        opened = len(feed.connections)

        feed.drop(carrier)
        await eventually(lambda: len(feed.connections) == opened + 1 and feed.messages[-1])
        assert feed.subscribed(-1) == first
        await feed.publish(both(market.yes, market.no, Decimal("0.37"), Decimal("0.01")))

        async def resumed() -> bool:
            prices = await prices_of(ingest_db, [market.id])
            return prices[market.id] == [Decimal("0.37"), Decimal("0.63")]

        await eventually(resumed, what="a tick after the reconnect written")
    assert sample("polycool_ingest_reconnects_total") - reconnects >= 1


async def test_garbage_frames_are_counted_and_survived(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    [market] = await followed_markets(ingest_db, 1)
    malformed = sample("polycool_ingest_malformed_total")
    reconnects = sample("polycool_ingest_reconnects_total")

    async with running(ingest_settings) as worker:
        await subscribed(feed, [market])
        await feed.send(
            "not json",
            b"\x00\xff binary garbage",
            "[1, 2]",
            '{"event_type": "book", "asset_id": "1"}',
            frame(last_trade(market.yes, "NaN")),
            "PONG",  # the keepalive's answer: not garbage
        )
        await feed.publish(both(market.yes, market.no, Decimal("0.44"), Decimal("0.01")))

        async def written() -> bool:
            prices = await prices_of(ingest_db, [market.id])
            return prices[market.id] == [Decimal("0.44"), Decimal("0.56")]

        await eventually(written, what="the good frame after the garbage")
        assert len(feed.connections) == len(worker.shards.connections)
    assert sample("polycool_ingest_malformed_total") - malformed == 6
    assert sample("polycool_ingest_reconnects_total") == reconnects


async def test_subscriptions_follow_positions_as_they_open_and_close(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    row = await ingest_db.fetchrow(
        """
        SELECT id, clob_token_ids FROM market AS m
        WHERE NOT active
          AND NOT EXISTS (SELECT 1 FROM position WHERE market_id = m.id AND status = 'ACTIVE')
        ORDER BY id LIMIT 1
        """
    )
    assert row is not None
    market_id, tokens = row["id"], list(row["clob_token_ids"])
    user_id = await ingest_db.fetchval(
        "INSERT INTO app_user (telegram_id) VALUES ($1) RETURNING id",
        7_900_000_000 + secrets.randbelow(10**9),
    )

    async with running(ingest_settings) as worker:
        await every_shard_subscribed(feed, worker)
        opened = len(feed.connections)
        assert not set(tokens) & feed.subscribed_open()

        position_id = await ingest_db.fetchval(
            """
            INSERT INTO position (user_id, market_id, outcome, shares, entry_price)
            SELECT $1, id, outcomes[1], 5, 0.5 FROM market WHERE id = $2
            RETURNING id
            """,
            user_id,
            market_id,
        )
        await eventually(lambda: set(tokens) <= feed.subscribed_open(), what="subscribed")
        subscribe = {
            "assets_ids": sorted(tokens),
            "operation": "subscribe",
            "custom_feature_enabled": True,
        }
        assert any(subscribe in messages for messages in feed.messages)
        await feed.publish(last_trade(tokens[1], "0.25"))

        async def priced() -> bool:
            prices = await prices_of(ingest_db, [market_id])
            return prices[market_id] == [Decimal("0.75"), Decimal("0.25")]

        await eventually(priced, what="the newly followed market priced")

        await ingest_db.execute(
            """
            UPDATE position SET status = 'CLOSED', shares = 0, closed_at = now() WHERE id = $1
            """,
            position_id,
        )
        await eventually(lambda: not set(tokens) & feed.subscribed_open(), what="unsubscribed")
        assert not set(tokens) & worker.coalescer.tokens
        assert len(feed.connections) == opened  # all of it without a reconnect


async def test_keepalive_pings_are_sent(feed: FeedServer, ingest_settings: Settings) -> None:
    async with running(ingest_settings):
        await eventually(lambda: feed.pings >= 2, within=3, what="two PINGs")


async def test_stopping_flushes_what_is_pending(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    [market] = await followed_markets(ingest_db, 1)
    slow = ingest_settings.replace(ingest_flush_interval=60.0)
    received = sample("polycool_ingest_ticks_total")

    async with running(slow) as worker:
        await subscribed(feed, [market])
        await feed.publish(both(market.yes, market.no, Decimal("0.29"), Decimal("0.01")))
        await eventually(lambda: sample("polycool_ingest_ticks_total") - received == 2)
        assert len(worker.coalescer) == 2  # not flushed: the interval is a minute

    prices = await prices_of(ingest_db, [market.id])
    assert prices[market.id] == [Decimal("0.29"), Decimal("0.71")]
