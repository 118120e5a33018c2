"""Market resolutions, one write path: resolveMarkets and the ingestion worker both call it.

`resolve_markets` judges the entries one by one, in order, against the markets read and locked
in one statement: an unknown market, an outcome the market lacks, or a market already resolved
to another outcome is listed in `rejected` with its reason and the rest applied; a market
resolved again to the same outcome is accepted and changes nothing (not counted). Then one
statement resolves them all (winner priced 1, the others 0, one resolved_at) and clears the
levels of their ACTIVE positions, so no level fires on a resolution or after it.

Nothing else is stored: a holder's Claimable, Portfolio and positions are computed from the
market when read, so retiring the markets' cache scopes changes every holder's screens at
once, exactly as a price write does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sql
from cache.keys import Scope
from cache.store import CacheStore
from cache.warm import refill_markets
from errors import BadUserInput
from sql.database import Database, Row
from writes.prices import Rejected
from writes.transaction import user_scopes, write_transaction


@dataclass(frozen=True)
class Resolution:
    market_id: str
    winning_outcome: str


@dataclass(frozen=True)
class ResolutionResult:
    resolved: int
    rejected: list[Rejected]
    # The markets resolved by this call, once each (for whoever must learn of it).
    market_ids: list[str]


async def resolve_markets(
    database: Database, cache: CacheStore, resolutions: Sequence[Resolution]
) -> ResolutionResult:
    """Two statements inside one transaction whatever the number of entries (none if empty)."""
    if not resolutions:
        return ResolutionResult(0, [], [])
    async with write_transaction(database, cache) as (tx, changed):
        # PostgreSQL text cannot hold NUL, so such an id is unknown without asking.
        ids = sorted({r.market_id for r in resolutions if "\x00" not in r.market_id})
        found = {row["id"]: row for row in await tx.fetch(sql.MARKETS_FOR_RESOLUTION, ids)}
        # The winner of each market as the entries leave it: a market's first valid entry
        # decides, and a later one is judged against it, as against a stored resolution.
        winner_of: dict[str, str | None] = {m: row["winning_outcome"] for m, row in found.items()}
        settled: dict[str, str] = {}
        rejected: list[Rejected] = []
        for index, resolution in enumerate(resolutions):
            try:
                outcome = _judged(index, resolution, found.get(resolution.market_id), winner_of)
            except BadUserInput as error:
                rejected.append(Rejected(resolution.market_id, error.message))
                continue
            if winner_of[resolution.market_id] is None:
                winner_of[resolution.market_id] = settled[resolution.market_id] = outcome
        if not settled:
            return ResolutionResult(0, rejected, [])
        market_ids = sorted(settled)
        cleared = await tx.fetch(sql.RESOLVE_MARKETS, market_ids, [settled[m] for m in market_ids])
        changed.update(Scope("market", m) for m in market_ids)
        for row in cleared:
            changed.update(user_scopes(row["user_id"], row["id"], closed=False))
    await refill_markets(cache, database, market_ids)
    return ResolutionResult(len(settled), rejected, market_ids)


def _judged(
    index: int, resolution: Resolution, market: Row | None, winner_of: dict[str, str | None]
) -> str:
    """The winning outcome in the market's spelling, or BadUserInput with the reason."""
    field = f"resolutions[{index}]"
    if market is None:
        raise BadUserInput(
            f"{field}.marketId: {resolution.market_id!r} is not a known market.",
            field=f"{field}.marketId",
        )
    wanted = resolution.winning_outcome.casefold()
    outcomes: list[str] = market["outcomes"]
    spelled = next((name for name in outcomes if name.casefold() == wanted), None)
    if spelled is None:
        raise BadUserInput(
            f"{field}.winningOutcome: {resolution.winning_outcome!r} is not an outcome of "
            f"market {resolution.market_id!r}; expected one of {', '.join(outcomes)}.",
            field=f"{field}.winningOutcome",
        )
    winner = winner_of[resolution.market_id]
    if winner is not None and winner != spelled:
        raise BadUserInput(
            f"{field}.winningOutcome: market {resolution.market_id!r} is already resolved to "
            f"{winner!r}; a resolution is final.",
            field=f"{field}.winningOutcome",
        )
    return spelled
