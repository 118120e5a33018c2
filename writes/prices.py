"""updateMarketPrices: new outcome prices for many markets, then TP/SL on the new prices.

Entries are judged one by one, in order, against the markets read in one statement; a bad one
is listed in `rejected` and the rest applied. A market sent twice ends at its last valid entry:
the write is one UPDATE ... FROM unnest(...), which would pick an arbitrary row among
duplicates, so it receives one entry per market. The levels of every updated market are then
judged by one more statement, whether or not its prices moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sql
from cache.keys import Scope
from cache.store import CacheStore
from database import Database
from errors import BadUserInput
from writes.checks import check_price
from writes.transaction import user_scopes, write_transaction


@dataclass(frozen=True)
class PriceUpdate:
    market_id: str
    outcome_prices: list[Decimal]


@dataclass(frozen=True)
class Rejected:
    market_id: str
    reason: str


@dataclass(frozen=True)
class Triggered:
    position_id: int
    user_id: int
    kind: str  # "TAKE_PROFIT" | "STOP_LOSS"
    price: Decimal


@dataclass(frozen=True)
class PriceUpdateResult:
    updated: int
    rejected: list[Rejected]
    triggered: list[Triggered]
    # The markets whose prices were written, once each (for whoever must learn of it).
    market_ids: list[str]


async def update_market_prices(
    database: Database, cache: CacheStore, updates: list[PriceUpdate]
) -> PriceUpdateResult:
    if not updates:
        return PriceUpdateResult(0, [], [], [])
    async with write_transaction(database, cache) as (tx, changed):
        # PostgreSQL text cannot hold NUL, so such an id is unknown without asking.
        ids = sorted({u.market_id for u in updates if "\x00" not in u.market_id})
        rows = await tx.fetch(sql.MARKET_OUTCOMES_BY_ID, ids)
        outcomes_of: dict[str, list[str]] = {row["id"]: row["outcomes"] for row in rows}
        rejected: list[Rejected] = []
        latest: dict[str, list[Decimal]] = {}
        applied = 0
        for index, update in enumerate(updates):
            try:
                prices = _checked(index, update, outcomes_of.get(update.market_id))
            except BadUserInput as error:
                rejected.append(Rejected(update.market_id, error.message))
                continue
            latest[update.market_id] = prices
            applied += 1
        if not latest:
            return PriceUpdateResult(0, rejected, [], [])
        # In id order, so two calls pricing the same markets lock them in the same order.
        market_ids = sorted(latest)
        await tx.execute(
            sql.UPDATE_MARKET_PRICES, market_ids, [_array_literal(latest[m]) for m in market_ids]
        )
        fired = await tx.fetch(sql.TRIGGER_LEVELS, market_ids)
        changed.update(Scope("market", m) for m in market_ids)
        for row in fired:
            changed.update(user_scopes(row["user_id"], row["position_id"]))
    return PriceUpdateResult(
        applied,
        rejected,
        [Triggered(r["position_id"], r["user_id"], r["kind"], r["price"]) for r in fired],
        market_ids,
    )


def _checked(index: int, update: PriceUpdate, outcomes: list[str] | None) -> list[Decimal]:
    """The update's prices at the stored scale, or BadUserInput with the reason to report."""
    field = f"updates[{index}]"
    if outcomes is None:
        raise BadUserInput(
            f"{field}.marketId: {update.market_id!r} is not a known market.",
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


def _array_literal(prices: list[Decimal]) -> str:
    # Plain notation: "1E-7" would read as well, but the literal stays what a person expects.
    return "{" + ",".join(format(price, "f") for price in prices) + "}"
