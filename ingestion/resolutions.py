"""`market_resolved` events: kept apart from the prices, written first in the next flush.

A resolution is not a price: it is never coalesced, never replaced by a later tick, and does
not wait behind the price map. Each event waits here (one per market: a repeat, sent again or
by another connection, is the same resolution) and the next flush writes them all before its
prices, through `resolve_markets` (writes/resolutions.py), the rules of the `resolveMarkets`
mutation: winner priced 1, the others 0, the levels of its positions cleared, nothing fired.

Ordering. The worker stops following the market the moment the event is read (worker.py: its
pending ticks go, its later ticks are dropped, its tokens are unsubscribed), so no tick read
after the resolution is ever written over the 1 and 0; and once resolved the market is not
followed again (sql/tracked_markets.sql). A price that would still reach it (a market resolved
by the mutation, before the next refresh drops it) changes nothing: sql/update_market_prices.sql
leaves resolved markets alone.

The winner. The feed names the market by condition id and the winner by token: the winning
outcome is the market's outcome whose token is `winning_asset_id`, read in one statement
(sql/feed_resolution_markets.sql). `winning_outcome`, the name as the feed spells it, is not a
fallback: a winning token that is not one of the market's means the event and the market
disagree about what settled, and resolving money on the name alone would be a guess. Such an
event is dropped and logged (the `resolveMarkets` mutation remains the way to settle it by
hand); a name that disagrees with the token's outcome is logged, and the token decides, as the
feed's contract says.

Failures. A write that fails (PostgreSQL away, a timeout) keeps its events for the next flush.
A market resolve_markets rejects (already resolved to another outcome) or that the database
does not know is dropped, logged and counted (`polycool_ingest_resolutions_total`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

import sql
from cache.store import CacheStore
from errors import Unavailable
from ingestion.feed import Resolved
from sql.database import Database
from telemetry.metrics import INGEST_RESOLUTIONS
from writes.resolutions import Resolution, resolve_markets

log = logging.getLogger(__name__)


@dataclass
class ResolutionReport:
    """What one write of the pending resolutions did (logs and tests)."""

    resolved: int = 0
    unchanged: int = 0  # already resolved to that outcome
    rejected: int = 0  # refused by resolve_markets
    unknown: int = 0  # no such market, or a winning token not the market's
    failed: bool = False


class Resolutions:
    def __init__(self, database: Database, cache: CacheStore, *, timeout: float) -> None:
        self.database = database
        self.cache = cache
        self.timeout = timeout
        self._pending: dict[str, Resolved] = {}  # condition id -> its event

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, resolved: Resolved) -> None:
        self._pending[resolved.condition_id] = resolved

    @property
    def tokens(self) -> set[str]:
        """Every token the pending events name: their markets must not be followed."""
        return {t for r in self._pending.values() for t in (r.winning_asset_id, *r.asset_ids)}

    async def write(self) -> ResolutionReport:
        """Resolve every pending market; on a failure the events wait for the next call."""
        report = ResolutionReport()
        if not self._pending:
            return report
        taken, self._pending = self._pending, {}
        try:
            async with asyncio.timeout(self.timeout):
                entries = await self._entries(taken, report)
                result = await resolve_markets(self.database, self.cache, entries)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as error:
            log.error("dropped %d market resolutions the database refused: %s", len(taken), error)
            report.failed = True
            return report
        except Exception as error:  # PostgreSQL away, a timeout: retried by the next flush
            for condition_id, event in taken.items():
                self._pending.setdefault(condition_id, event)
            if not isinstance(error, Unavailable):  # an outage is logged once, by the pool
                log.warning(
                    "writing %d market resolutions failed, kept for the next flush: %s: %s",
                    len(taken),
                    type(error).__name__,
                    error,
                )
            report.failed = True
            return report
        report.resolved = result.resolved
        report.rejected = len(result.rejected)
        report.unchanged = len(entries) - result.resolved - report.rejected
        for rejected in result.rejected:
            log.warning("market_resolved for %s refused: %s", rejected.market_id, rejected.reason)
        if result.market_ids:
            log.info("resolved from the feed: %s", ", ".join(result.market_ids))
        for outcome in ("resolved", "unchanged", "rejected", "unknown"):
            if count := getattr(report, outcome):
                INGEST_RESOLUTIONS.labels(outcome).inc(count)
        return report

    async def _entries(
        self, taken: dict[str, Resolved], report: ResolutionReport
    ) -> list[Resolution]:
        """The events as resolve_markets' entries: market id and the winning token's outcome."""
        rows = await self.database.fetch(sql.FEED_RESOLUTION_MARKETS, sorted(taken))
        markets = {row["condition_id"]: row for row in rows}
        entries = []
        for condition_id, event in sorted(taken.items()):
            market = markets.get(condition_id)
            if market is None:
                log.warning("market_resolved for %s: no market has that condition id", condition_id)
                report.unknown += 1
                continue
            tokens: list[str] = market["clob_token_ids"]
            if event.winning_asset_id not in tokens:
                log.warning(
                    "market_resolved for market %s: the winning token %s is not one of its "
                    "tokens; not resolved",
                    market["id"],
                    event.winning_asset_id,
                )
                report.unknown += 1
                continue
            outcome: str = market["outcomes"][tokens.index(event.winning_asset_id)]
            named = event.winning_outcome
            if named is not None and named.casefold() != outcome.casefold():
                log.warning(
                    "market_resolved for market %s names %r the winner, its token is %r's; "
                    "the token decides",
                    market["id"],
                    named,
                    outcome,
                )
            entries.append(Resolution(market["id"], outcome))
        return entries
