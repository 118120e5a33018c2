"""Market prices, one write path: updateMarketPrices and the ingestion worker both call it.

`write_prices` runs inside the caller's write transaction: one statement writes the prices of every
market (UPDATE ... FROM unnest(...)), one more judges the TP/SL levels of those markets against the
new prices, consumes what fired and queues it in the outbox (writes/triggers.py). The transaction
then retires the markets' cache scopes after its commit, the caller relays the triggers to the
Redis stream and reads the markets back into the cache (cache/warm.py). The mutation checks its
input first; the worker's prices come checked from the feed (ingestion/feed.py) and need no read of
the markets.

updateMarketPrices: entries are judged one by one, in order, against the markets read in one
statement; a bad one is listed in `rejected` and the rest applied. A market sent twice ends at
its last valid entry: the UPDATE would pick an arbitrary row among duplicates, so it receives
one entry per market. The levels of every updated market are judged whether or not its prices
moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sql
from cache.keys import Scope
from cache.store import CacheStore
from cache.warm import refill_markets
from errors import BadUserInput
from sql.database import Database
from writes.checks import check_price
from writes.transaction import user_scopes, write_transaction
from writes.triggers import Triggered, TriggerStream, triggered_from_row


@dataclass(frozen=True)
class PriceUpdate:
    market_id: str
    outcome_prices: list[Decimal]


@dataclass(frozen=True)
class Rejected:
    market_id: str
    reason: str


@dataclass(frozen=True)
class PriceUpdateResult:
    updated: int
    rejected: list[Rejected]
    triggered: list[Triggered]
    # The markets whose prices were written, once each (for whoever must learn of it).
    market_ids: list[str]


async def write_prices(
    tx: Database,
    changed: set[Scope],
    prices: Mapping[str, Sequence[Decimal]],
    receipts: Sequence[int] = (),
) -> list[Triggered]:
    """Write checked prices (market id -> one price per outcome) and fire the crossed levels.

    Two statements inside the caller's `write_transaction`, whatever the number of markets;
    the markets' scopes (and those of positions whose levels fired) join `changed`. `receipts`
    are outbox ids already relayed, deleted by the same statement (the worker's way).
    """
    # In id order, so two writers pricing the same markets lock them in the same order.
    market_ids = sorted(prices)
    await tx.execute(
        sql.UPDATE_MARKET_PRICES, market_ids, [_array_literal(prices[m]) for m in market_ids]
    )
    rows = await tx.fetch(sql.TRIGGER_LEVELS, market_ids, list(receipts))
    changed.update(Scope("market", m) for m in market_ids)
    for row in rows:
        # A fired level is consumed; its position stays ACTIVE.
        changed.update(user_scopes(row["user_id"], row["position_id"], closed=False))
    return [triggered_from_row(row) for row in rows]


async def update_market_prices(
    database: Database,
    cache: CacheStore,
    stream: TriggerStream,
    updates: list[PriceUpdate],
) -> PriceUpdateResult:
    """The mutation: check each entry, write the valid ones, relay what fired to `stream`."""
    if not updates:
        return PriceUpdateResult(0, [], [], [])
    async with write_transaction(database, cache) as (tx, changed):
        # PostgreSQL text cannot hold NUL, so such an id is unknown without asking.
        ids = sorted({u.market_id for u in updates if "\x00" not in u.market_id})
        rows = await tx.fetch(sql.MARKET_OUTCOMES_BY_ID, ids)
        outcomes_of: dict[str, list[str]] = {row["id"]: row["outcomes"] for row in rows}
        resolved = {row["id"] for row in rows if row["resolved"]}
        rejected: list[Rejected] = []
        latest: dict[str, list[Decimal]] = {}
        applied = 0
        for index, update in enumerate(updates):
            try:
                prices = _checked(
                    index, update, outcomes_of.get(update.market_id), update.market_id in resolved
                )
            except BadUserInput as error:
                rejected.append(Rejected(update.market_id, error.message))
                continue
            latest[update.market_id] = prices
            applied += 1
        if not latest:
            return PriceUpdateResult(0, rejected, [], [])
        triggered = await write_prices(tx, changed, latest)
    await stream.relay(database, triggered)
    await refill_markets(cache, database, sorted(latest))
    return PriceUpdateResult(applied, rejected, triggered, sorted(latest))


def _checked(
    index: int, update: PriceUpdate, outcomes: list[str] | None, resolved: bool
) -> list[Decimal]:
    """The update's prices at the stored scale, or BadUserInput with the reason to report."""
    field = f"updates[{index}]"
    if outcomes is None:
        raise BadUserInput(
            f"{field}.marketId: {update.market_id!r} is not a known market.",
            field=f"{field}.marketId",
        )
    if resolved:
        raise BadUserInput(
            f"{field}.marketId: market {update.market_id!r} is resolved; its prices are final.",
            field=f"{field}.marketId",
        )
    if len(update.outcome_prices) != len(outcomes):
        raise BadUserInput(
            f"{field}.outcomePrices: {len(update.outcome_prices)} prices for "
            f"{len(outcomes)} outcomes ({', '.join(outcomes)}); expected one price per outcome.",
            field=f"{field}.outcomePrices",
        )
    return [
        check_price(f"{field}.outcomePrices[{i}]", price)
        for i, price in enumerate(update.outcome_prices)
    ]


def _array_literal(prices: Sequence[Decimal]) -> str:
    # Plain notation: "1E-7" would read as well, but the literal stays what a person expects.
    return "{" + ",".join(format(price, "f") for price in prices) + "}"
