"""The custom features on the feed: best_bid_ask moves a price, market_resolved settles a market.

The worker runs against the local feed stand-in (conftest.py) on markets of the tests' own,
followed because a position is open in each: resolving them disturbs no other test.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from ingestion.worker import Worker
from settings import Settings
from sql.database import Database
from tests.factories import insert_market, insert_position, insert_user
from tests.ingestion.conftest import TriggerReader, followed_markets, prices_of, running
from tests.ingestion.feed_server import (
    FeedServer,
    best_bid_ask,
    eventually,
    frame,
    last_trade,
    market_resolved,
    new_market,
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass(frozen=True)
class Held:
    """A two-outcome market of the test's own, one holder on each side with both levels set."""

    id: str
    condition_id: str
    yes: str
    no: str
    on_yes: int  # position ids
    on_no: int


async def held_market(db: asyncpg.Connection, user_id: int) -> Held:
    market_id = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.5"), Decimal("0.5")]
    )
    row = await db.fetchrow(
        "SELECT condition_id, clob_token_ids FROM market WHERE id = $1", market_id
    )
    assert row is not None
    positions = []
    for outcome in ("Yes", "No"):
        position_id = await insert_position(
            db,
            user_id=user_id,
            market_id=market_id,
            outcome=outcome,
            shares=Decimal(10),
            entry_price=Decimal("0.5"),
        )
        await db.execute(
            "UPDATE position SET take_profit_price = 0.8, stop_loss_price = 0.2 WHERE id = $1",
            position_id,
        )
        positions.append(position_id)
    yes, no = row["clob_token_ids"]
    return Held(market_id, row["condition_id"], yes, no, positions[0], positions[1])


async def new_user(db: asyncpg.Connection) -> int:
    return await insert_user(db, str(7_700_000_000 + secrets.randbelow(10**9)))


async def levels(db: asyncpg.Connection, position_ids: list[int]) -> list[tuple[object, ...]]:
    rows = await db.fetch(
        """
        SELECT status, take_profit_price, stop_loss_price FROM position
        WHERE id = ANY($1) ORDER BY id
        """,
        position_ids,
    )
    return [tuple(r) for r in rows]


async def test_best_bid_ask_moves_the_price_and_new_market_is_ignored(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    [market] = await followed_markets(ingest_db, 1)
    malformed = sample("polycool_ingest_malformed_total")

    async with running(ingest_settings):
        await eventually(lambda: {market.yes, market.no} <= feed.subscribed_open())
        await feed.publish(
            new_market("0x" + "ef" * 32, [market.yes, market.no]),
            best_bid_ask(market.no, "0.3", "0.34"),
        )

        async def moved() -> bool:
            prices = await prices_of(ingest_db, [market.id])
            return prices[market.id] == [Decimal("0.68"), Decimal("0.32")]

        await eventually(moved, what="the midpoint of best_bid_ask written, 1 - p beside it")
    assert sample("polycool_ingest_malformed_total") == malformed


async def test_market_resolved_settles_the_market_before_any_later_tick(
    feed: FeedServer,
    ingest_settings: Settings,
    ingest_db: asyncpg.Connection,
    stream: TriggerReader,
) -> None:
    user_id = await new_user(ingest_db)
    won_by_no, won_by_yes, disputed = [await held_market(ingest_db, user_id) for _ in range(3)]
    positions = [p for m in (won_by_no, won_by_yes, disputed) for p in (m.on_yes, m.on_no)]
    resolved_before = sample("polycool_ingest_resolutions_total", result="resolved")
    unknown_before = sample("polycool_ingest_resolutions_total", result="unknown")

    async with running(ingest_settings) as worker:
        held = {t for m in (won_by_no, won_by_yes, disputed) for t in (m.yes, m.no)}
        await eventually(lambda: held <= feed.subscribed_open(), what="subscribed")
        await feed.publish(
            # Before the resolution, in the same frame: Yes at 0.9 and No at 0.1 would fire
            # both levels of the market (the control below shows they do).
            last_trade(won_by_no.yes, "0.9"),
            market_resolved(won_by_no.condition_id, [won_by_no.yes, won_by_no.no], won_by_no.no),
            # After it: must not move the settled prices.
            best_bid_ask(won_by_no.yes, "0.55", "0.65"),
            # The winner named by its token alone.
            market_resolved(
                won_by_yes.condition_id, [won_by_yes.yes, won_by_yes.no], won_by_yes.yes
            ),
            # A winning token that is not the market's: not resolved on the name alone.
            market_resolved(
                disputed.condition_id, [disputed.yes, disputed.no], won_by_yes.no, "Yes"
            ),
        )
        # A condition id no market has (sent as is: no connection subscribed to its tokens).
        await feed.send(frame(market_resolved("0x" + "00" * 32, ["1", "2"], "1", "Yes")))

        async def settled() -> bool:
            rows = await ingest_db.fetch(
                "SELECT id FROM market WHERE id = ANY($1) AND resolved",
                [won_by_no.id, won_by_yes.id],
            )
            return len(rows) == 2

        await eventually(settled, what="both markets resolved")
        await eventually(lambda: len(worker.resolutions) == 0, what="every event written")
        # Their tokens are no longer followed; the disputed market, set aside while its event
        # was pending, is followed again by the next refresh.
        settled_tokens = {won_by_no.yes, won_by_no.no, won_by_yes.yes, won_by_yes.no}
        await eventually(lambda: not settled_tokens & feed.subscribed_open(), what="unsubscribed")
        await eventually(
            lambda: {disputed.yes, disputed.no} <= feed.subscribed_open(), what="followed again"
        )
        assert not settled_tokens & worker.coalescer.tokens
        # A few flushes and refreshes later, nothing has moved them (checked below).
        await asyncio.sleep(5 * ingest_settings.ingest_flush_interval)

    rows = await ingest_db.fetch(
        """
        SELECT id, resolved, winning_outcome, outcome_prices, resolved_at IS NOT NULL AS stamped
        FROM market WHERE id = ANY($1) ORDER BY id
        """,
        [won_by_no.id, won_by_yes.id, disputed.id],
    )
    assert {r["id"]: tuple(r)[1:] for r in rows} == {
        won_by_no.id: (True, "No", [Decimal(0), Decimal(1)], True),
        won_by_yes.id: (True, "Yes", [Decimal(1), Decimal(0)], True),
        disputed.id: (False, None, [Decimal("0.5"), Decimal("0.5")], False),
    }
    # Levels cleared in the resolved markets, positions still ACTIVE until redeemed; the
    # disputed market's untouched.
    assert await levels(ingest_db, positions) == [
        ("ACTIVE", None, None),
        ("ACTIVE", None, None),
        ("ACTIVE", None, None),
        ("ACTIVE", None, None),
        ("ACTIVE", Decimal("0.8"), Decimal("0.2")),
        ("ACTIVE", Decimal("0.8"), Decimal("0.2")),
    ]
    # Nothing fired: no entry on the stream, nothing queued.
    assert await stream.entries() == []
    queued = "SELECT count(*) FROM trigger_outbox WHERE position_id = ANY($1)"
    assert await ingest_db.fetchval(queued, positions) == 0
    assert sample("polycool_ingest_resolutions_total", result="resolved") - resolved_before == 2
    assert sample("polycool_ingest_resolutions_total", result="unknown") - unknown_before == 2


async def test_control_without_the_resolution_the_same_ticks_fire_and_move_the_price(
    feed: FeedServer,
    ingest_settings: Settings,
    ingest_db: asyncpg.Connection,
    stream: TriggerReader,
) -> None:
    market = await held_market(ingest_db, await new_user(ingest_db))

    async with running(ingest_settings):
        await eventually(lambda: {market.yes, market.no} <= feed.subscribed_open())
        await feed.publish(last_trade(market.yes, "0.9"))

        async def fired() -> bool:
            return len(await stream.entries()) == 2

        await eventually(fired, what="both levels fired by the tick")
        await feed.publish(best_bid_ask(market.yes, "0.55", "0.65"))

        async def moved() -> bool:
            prices = await prices_of(ingest_db, [market.id])
            return prices[market.id] == [Decimal("0.6"), Decimal("0.4")]

        await eventually(moved, what="the later tick written")

    entries = await stream.entries()
    assert sorted((e["position_id"], e["kind"]) for e in entries) == sorted(
        [(str(market.on_yes), "TAKE_PROFIT"), (str(market.on_no), "STOP_LOSS")]
    )


class Unreachable(Database):
    """The database during an outage: the next `failures` statements outside a transaction
    (the resolutions' first read) cannot reach it."""

    def __init__(self, database: Database, failures: int) -> None:
        super().__init__(database._executor)
        self.failures = failures

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("injected: PostgreSQL is unreachable")
        return await super().fetch(query, *args)


async def test_a_resolution_waits_out_an_outage_and_is_written_after_it(
    feed: FeedServer, ingest_settings: Settings, ingest_db: asyncpg.Connection
) -> None:
    market = await held_market(ingest_db, await new_user(ingest_db))
    outage: list[Unreachable] = []

    def unreachable(worker: Worker) -> None:
        outage.append(Unreachable(worker.resolutions.database, failures=3))
        worker.resolutions.database = outage[0]

    async with running(ingest_settings, unreachable) as worker:
        await eventually(lambda: {market.yes, market.no} <= feed.subscribed_open())
        await feed.publish(
            market_resolved(market.condition_id, [market.yes, market.no], market.yes, "Yes")
        )

        async def resolved() -> bool:
            winner = await ingest_db.fetchval(
                "SELECT winning_outcome FROM market WHERE id = $1", market.id
            )
            return bool(winner == "Yes")

        await eventually(resolved, what="the resolution written once the outage is over")
        assert outage[0].failures == 0  # it did fail three times first
        assert len(worker.resolutions) == 0
        assert not {market.yes, market.no} & feed.subscribed_open()
