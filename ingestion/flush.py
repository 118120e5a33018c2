"""The flush: the coalesced prices of every changed market, written in one transaction.

Two statements however many markets changed (writes/prices.py `write_prices`, the path
updateMarketPrices takes too): one UPDATE for all the prices, one that judges the TP/SL levels of
those markets against the new prices, consumes what fired and queues it in the outbox. After the
commit the cache scopes of exactly those markets (and of positions whose levels fired) are retired,
the fired levels are published to the Redis stream, and the markets are read back into the cache
(one more statement, cache/warm.py) so that readers do not each miss them. Their outbox receipts
ride on the next flush's trigger statement, so relaying costs no statement of its own; with nothing
to flush, they go in one DELETE.

A flush that fails puts its prices back (a newer tick of the same token wins) and the next one
retries them. With PostgreSQL away that is every flush until it is back, so such a failure says
nothing of its own: sql/database.py logs the outage once, when it starts and when it ends. The
one exception: a statement PostgreSQL refuses for its data (a CHECK, a value out of range) would
fail the same way forever, so that batch is dropped and logged instead of blocking every later
price.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import asyncpg

import sql
from cache.store import CacheStore
from cache.warm import refill_markets
from errors import Unavailable
from ingestion.coalescer import Coalescer
from sql.database import Database
from telemetry.metrics import (
    INGEST_FLUSH_FAILURES,
    INGEST_FLUSH_MARKETS,
    INGEST_FLUSH_SECONDS,
    INGEST_FLUSH_STATEMENTS,
    INGEST_LAG_SECONDS,
    INGEST_REFUSED,
    RequestCounts,
    request_counts,
)
from writes.prices import write_prices
from writes.transaction import write_transaction
from writes.triggers import Triggered, TriggerStream, relay_unrelayed

log = logging.getLogger(__name__)

# Refused markets named in one flush's log line; the rest are only counted.
LOGGED_REFUSALS = 5


@dataclass
class FlushReport:
    """What one flush did (the worker logs it; tests assert on it)."""

    markets: int = 0
    refused: int = 0
    triggered: list[Triggered] = field(default_factory=list)
    statements: int = 0  # of the write (the prices, the levels), the refill's not included
    failed: bool = False
    # The markets whose prices were committed, read back into the cache after the flush.
    written: list[str] = field(default_factory=list)


class Flusher:
    def __init__(
        self,
        database: Database,
        cache: CacheStore,
        stream: TriggerStream,
        coalescer: Coalescer,
        *,
        timeout: float,
    ) -> None:
        self.database = database
        self.cache = cache
        self.stream = stream
        self.coalescer = coalescer
        self.timeout = timeout
        # Outbox ids relayed to the stream, to delete with the next flush.
        self.receipts: list[int] = []

    async def flush(self) -> FlushReport:
        """Write what is pending; never raises for a database or Redis failure."""
        counts = RequestCounts()
        token = request_counts.set(counts)
        try:
            report = await self._flush()
        finally:
            request_counts.reset(token)
        report.statements = counts.sql
        if report.markets or report.statements:
            INGEST_FLUSH_STATEMENTS.observe(counts.sql)
        if report.written:
            await refill_markets(self.cache, self.database, report.written)
        return report

    async def sweep(self, older_than: float) -> int:
        """Relay outbox rows nobody could relay (they are older than `older_than` seconds)."""
        try:
            return await relay_unrelayed(self.database, self.stream, older_than, self.receipts)
        except Exception as error:  # the database is away: the next sweep tries again
            log.warning("outbox sweep failed: %s: %s", type(error).__name__, error)
            return 0

    async def _flush(self) -> FlushReport:
        batch = self.coalescer.take()
        report = FlushReport(markets=len(batch.prices), refused=len(batch.refused))
        if batch.refused:
            INGEST_REFUSED.inc(len(batch.refused))
            log.warning(
                "refused the prices of %d markets (sum check): %s",
                len(batch.refused),
                "; ".join(f"{m}: {why}" for m, why in batch.refused[:LOGGED_REFUSALS]),
            )
        if not batch.prices:
            if self.receipts:
                await self._delete_receipts()
            return report
        started = time.perf_counter()
        try:
            async with (
                asyncio.timeout(self.timeout),
                write_transaction(self.database, self.cache) as (tx, changed),
            ):
                fired = await write_prices(tx, changed, batch.prices, self.receipts)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as error:
            INGEST_FLUSH_FAILURES.inc()
            log.error(
                "dropped a flush of %d markets the database refused: %s", report.markets, error
            )
            report.failed = True
            return report
        except Exception as error:  # PostgreSQL away, a timeout, the pool busy: retried next time
            self.coalescer.restore(batch)
            INGEST_FLUSH_FAILURES.inc()
            if not isinstance(error, Unavailable):  # an outage is logged once, by the pool
                log.warning(
                    "flush of %d markets failed, kept for the next one: %s: %s",
                    report.markets,
                    type(error).__name__,
                    error,
                )
            report.failed = True
            return report
        committed = time.monotonic()
        report.written = sorted(batch.prices)
        self.receipts = []
        self.coalescer.written(batch)
        INGEST_FLUSH_SECONDS.observe(time.perf_counter() - started)
        INGEST_FLUSH_MARKETS.observe(report.markets)
        for seen in batch.first_seen.values():
            INGEST_LAG_SECONDS.observe(committed - seen)
        report.triggered = fired
        if fired and await self.stream.publish(fired):
            self.receipts = [trigger.trigger_id for trigger in fired]
        return report

    async def _delete_receipts(self) -> None:
        try:
            await self.database.execute(sql.DELETE_RELAYED_TRIGGERS, self.receipts)
        except Unavailable:  # kept for the next flush; the pool logged the outage
            return
        except Exception as error:  # kept: the next flush deletes them
            log.warning("could not delete relayed triggers: %s: %s", type(error).__name__, error)
            return
        self.receipts = []
