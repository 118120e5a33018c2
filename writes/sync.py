"""syncPositions: make the user's ACTIVE positions match the holdings read from the chain.

Every entry is checked before the transaction opens (a duplicate token, negative shares or a
bad price refuses the whole sync, known token or not). Then three statements whatever the
snapshot's size: lock the user, map every token id to its market and outcome, and apply the
snapshot with one set-based statement that opens, updates and closes. Positions in resolved
markets are left alone: their tokens are neither applied nor skipped, and their positions do
not close when the snapshot lacks them (redeemPositions settles them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sql
from cache.store import CacheStore
from errors import BadUserInput, NotFound
from sql.database import Database
from writes.checks import DUST, check_price, check_shares, check_text, parse_telegram_id
from writes.transaction import user_scopes, write_transaction


@dataclass(frozen=True)
class Holding:
    token_id: str
    shares: Decimal
    avg_price: Decimal


@dataclass(frozen=True)
class SyncResult:
    opened: int
    updated: int
    closed: int
    skipped_token_ids: list[str]
    # What changed, for whoever must learn of it (a cache): the user, the positions written.
    user_id: int
    position_ids: list[int]


async def sync_positions(
    database: Database, cache: CacheStore, *, telegram_id: str, holdings: list[Holding]
) -> SyncResult:
    key = parse_telegram_id("telegramId", telegram_id)
    holdings = _checked(holdings)
    async with write_transaction(database, cache) as (tx, changed_scopes):
        user_id = await tx.fetchval(sql.USER_FOR_SYNC, key)
        if user_id is None:
            raise NotFound(f"telegramId: no user has Telegram id {key}.", field="telegramId")
        rows = await tx.fetch(sql.OUTCOMES_BY_TOKEN, [h.token_id for h in holdings])
        # A token held by two markets would be bad data; the first market by id wins.
        outcome_of: dict[str, tuple[str, str]] = {}
        settled: set[str] = set()
        for row in sorted(rows, key=lambda r: r["market_id"]):
            if row["token_id"] not in outcome_of and row["token_id"] not in settled:
                if row["resolved"]:
                    settled.add(row["token_id"])
                else:
                    outcome_of[row["token_id"]] = (row["market_id"], row["outcome"])
        skipped = [
            h.token_id
            for h in holdings
            if h.token_id not in outcome_of and h.token_id not in settled
        ]
        kept = _kept(holdings, outcome_of)
        changed = await tx.fetchrow(
            sql.APPLY_POSITION_SNAPSHOT,
            user_id,
            [market_id for market_id, _ in kept],
            [outcome for _, outcome in kept],
            [h.shares for h in kept.values()],
            [h.avg_price for h in kept.values()],
        )
        if changed is not None:
            changed_scopes.update(
                user_scopes(
                    user_id,
                    *changed["opened"],
                    *changed["updated"],
                    *changed["closed"],
                    closed=bool(changed["closed"]),
                )
            )
    assert changed is not None  # a SELECT of three arrays: always one row
    opened, updated, closed = changed["opened"], changed["updated"], changed["closed"]
    return SyncResult(
        len(opened), len(updated), len(closed), skipped, user_id, [*opened, *updated, *closed]
    )


def _checked(holdings: list[Holding]) -> list[Holding]:
    """The holdings with their numbers at the stored scale; BadUserInput for the first bad one."""
    seen: dict[str, int] = {}
    checked = []
    for index, holding in enumerate(holdings):
        field = f"positions[{index}]"
        token_id = check_text(f"{field}.tokenId", holding.token_id)
        if token_id in seen:
            raise BadUserInput(
                f"{field}.tokenId: {token_id!r} is listed twice (also positions[{seen[token_id]}]);"
                " expected each token once.",
                field=f"{field}.tokenId",
            )
        seen[token_id] = index
        shares = check_shares(f"{field}.shares", holding.shares, positive=False)
        avg_price = check_price(f"{field}.avgPrice", holding.avg_price)
        checked.append(Holding(token_id, shares, avg_price))
    return checked


def _kept(
    holdings: list[Holding], outcome_of: dict[str, tuple[str, str]]
) -> dict[tuple[str, str], Holding]:
    """The holdings that keep or open a position, by (market id, outcome).

    Dust is left out, so its position closes as a missing one does. Two tokens cannot stand for
    one outcome of one market unless a market lists a token twice; the later one would win.
    """
    kept: dict[tuple[str, str], Holding] = {}
    for holding in holdings:
        if holding.token_id in outcome_of and holding.shares >= DUST:
            kept[outcome_of[holding.token_id]] = holding
    return kept
