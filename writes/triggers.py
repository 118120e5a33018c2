"""Triggered TP/SL levels to the trading service's Redis stream, through an outbox.

Losing a trigger is not acceptable (a user's stop loss would silently not happen), and Redis
may be down when a price write commits. So sql/trigger_levels.sql queues each fired level in
`trigger_outbox` in the statement that consumes it; after the commit the writer publishes the
rows here (one XADD each, one pipeline) and only then deletes them. A row whose relay failed
stays in the outbox, and the ingestion worker's sweep (`relay_unrelayed`) publishes it once it
is older than TRIGGER_RETRY_AFTER. A crash between the XADD and the delete sends the row again,
so the publishing script remembers the `trigger_id`s it added (a sorted set beside the stream, as
long as the stream keeps entries) and adds a repeat no more: each fired level is in the stream
once, which the bot's subscription (cache/trigger_feed.py) relies on to send it once. Entries
still carry `trigger_id`, for a consumer of the stream to check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

import sql
from cache.store import CacheStore, Pipeline
from sql.database import Database
from telemetry.metrics import TRIGGER_RELAY_FAILURES, TRIGGERS_RELAYED
from writes.checks import plain

log = logging.getLogger(__name__)

# XADD ... MAXLEN ~: the stream keeps at least this many entries (approximate trimming only drops
# whole nodes beyond it), ten times the 10,000 the subscription promises a reconnecting bot; a
# consumer that falls further behind has lost its place and must resynchronise from the database.
STREAM_LENGTH = 100_000
# The sweep's batch: a long outage's backlog is relayed this many rows per refresh.
SWEEP_BATCH = 1000


@dataclass(frozen=True)
class Triggered:
    """A level that fired: one outbox row, one stream entry."""

    trigger_id: int
    position_id: int
    user_id: int
    telegram_id: int | None  # None only for an outbox row naming no known user
    market_id: str
    kind: str  # "TAKE_PROFIT" | "STOP_LOSS"
    price: Decimal
    fired_at: datetime


def triggered_from_row(row: asyncpg.Record) -> Triggered:
    """sql/trigger_levels.sql returns exactly these columns, named as the fields."""
    return Triggered(**row)


@dataclass(frozen=True)
class TriggerStream:
    """The stream triggers are published to, through the cache's Redis store."""

    store: CacheStore
    key: str

    async def publish(self, fired: Sequence[Triggered]) -> bool:
        """XADD every trigger in one round trip; False if Redis did not take them."""
        if not fired:
            return True

        args: list[str] = [str(STREAM_LENGTH), str(len(ENTRY_FIELDS))]
        for trigger in fired:
            args += [relayed_member(trigger), repr(trigger.fired_at.timestamp())]
            args.extend(value for pair in _entry(trigger).items() for value in pair)

        def queue(pipeline: Pipeline) -> None:
            keys = [self.key, relayed_key(self.key)]
            self.store.script(pipeline, _PUBLISH, keys, args)

        try:
            sent = await self.store.run("triggers", queue)
        except Exception as error:  # whatever the client raises: the outbox keeps them
            log.warning("publishing triggers failed: %s: %s", type(error).__name__, error)
            sent = None
        if sent is None:
            TRIGGER_RELAY_FAILURES.inc()
            log.warning(
                "could not publish %d triggers to %s: they wait in the outbox", len(fired), self.key
            )
            return False
        TRIGGERS_RELAYED.inc(len(fired))
        return True

    async def relay(self, database: Database, fired: Sequence[Triggered]) -> None:
        """After a commit: publish, then delete the outbox rows (updateMarketPrices' way).

        Never raises: the prices are committed whatever happens here, and a row left behind
        is relayed by the worker's sweep.
        """
        if not fired or not await self.publish(fired):
            return
        try:
            await database.execute(sql.DELETE_RELAYED_TRIGGERS, [t.trigger_id for t in fired])
        except Exception as error:  # the mutation has committed: it must not fail now
            log.warning(
                "relayed triggers stay in the outbox (%s: %s); they may be sent again",
                type(error).__name__,
                error,
            )


class _Unpublished(Exception):
    """Rolls the sweep's transaction back: its rows go back to the outbox."""


async def relay_unrelayed(
    database: Database, stream: TriggerStream, older_than: float, keep: Sequence[int] = ()
) -> int:
    """The sweep: publish outbox rows older than `older_than` seconds (except `keep`).

    The rows are deleted and published in one transaction, committed only once Redis took
    them, so a failed relay leaves them for the next sweep. Returns how many were relayed.
    """
    try:
        async with database.transaction() as tx:
            rows = await tx.fetch(sql.UNRELAYED_TRIGGERS, older_than, list(keep), SWEEP_BATCH)
            fired = [triggered_from_row(row) for row in rows]
            if not await stream.publish(fired):
                raise _Unpublished
    except _Unpublished:
        return 0
    if fired:
        log.info("relayed %d triggers left in the outbox", len(fired))
    return len(fired)


def relayed_key(stream: str) -> str:
    """The set of trigger ids the stream holds, in the stream's hash slot (one script, one slot
    on a cluster): the stream's own hash tag if it has one, else its whole name as the tag."""
    opening = stream.find("{")
    if opening != -1 and stream.find("}", opening + 2) != -1:
        return f"{stream}:relayed"
    return f"{{{stream}}}:relayed"


# KEYS: the stream, its relayed triggers. ARGV: MAXLEN, fields per entry, then per trigger its
# member and score in the relayed set and its fields' names and values. A trigger already
# relayed is skipped (a resent outbox row); the oldest beyond the stream's length are forgotten,
# as the stream forgets their entries.
_PUBLISH = """
local maxlen, width = ARGV[1], tonumber(ARGV[2])
local added, i = 0, 3
while i <= #ARGV do
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[i + 1], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', unpack(ARGV, i + 2, i + 1 + 2 * width))
    added = added + 1
  end
  i = i + 2 + 2 * width
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(maxlen) - 1)
return added
"""


def relayed_member(trigger: Triggered) -> str:
    """A trigger in the relayed set: its outbox id with its firing time, since outbox ids start
    again in a new database (restored, recreated) while Redis may keep the set; by id alone,
    a new trigger would be taken for an old one and never sent."""
    return f"{trigger.trigger_id}@{trigger.fired_at.isoformat()}"


ENTRY_FIELDS = (
    "trigger_id",
    "position_id",
    "user_id",
    "telegram_id",
    "market_id",
    "kind",
    "price",
    "fired_at",
)


def _entry(trigger: Triggered) -> dict[str, str]:
    return {
        "trigger_id": str(trigger.trigger_id),
        "position_id": str(trigger.position_id),
        "user_id": str(trigger.user_id),
        "telegram_id": "" if trigger.telegram_id is None else str(trigger.telegram_id),
        "market_id": trigger.market_id,
        "kind": trigger.kind,
        "price": plain(trigger.price),
        "fired_at": trigger.fired_at.isoformat(),
    }
