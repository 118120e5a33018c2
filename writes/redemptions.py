"""redeemPositions: the user claimed on chain; those positions close at their payout.

All or nothing: every id is judged before anything is written. An unknown user, or an id that
is not one of that user's positions, is NOT_FOUND (another user's position is not revealed); an
empty list, an id given twice, a position that is not ACTIVE or whose market has not resolved is
BAD_USER_INPUT. Three statements whatever the number of positions: lock the user, read and lock
the positions with their markets' resolutions, then close them all and write one REDEEM trade
each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

import sql
from cache.keys import trades_scope
from cache.store import CacheStore
from domain.identifiers import parse_bigint_id
from domain.settlement import payout_price
from errors import BadUserInput, NotFound
from sql.database import Database
from writes.checks import parse_telegram_id
from writes.transaction import user_scopes, write_transaction


@dataclass(frozen=True)
class Redemption:
    # The sum of the positions' shares x payout price.
    payout: Decimal
    # The positions as they were closed, in the order given.
    positions: list[asyncpg.Record]


async def redeem_positions(
    database: Database, cache: CacheStore, *, telegram_id: str, position_ids: Sequence[str]
) -> Redemption:
    key = parse_telegram_id("telegramId", telegram_id)
    ids = _checked(position_ids)
    async with write_transaction(database, cache) as (tx, changed):
        user_id = await tx.fetchval(sql.USER_FOR_SYNC, key)
        if user_id is None:
            raise NotFound(f"telegramId: no user has Telegram id {key}.", field="telegramId")
        rows = {
            row["id"]: row for row in await tx.fetch(sql.POSITIONS_FOR_REDEMPTION, user_id, ids)
        }
        prices = [
            _payout_price(index, rows.get(i), position_ids[index]) for index, i in enumerate(ids)
        ]
        closed = await tx.fetch(sql.REDEEM_POSITIONS, ids, prices, [rows[i]["shares"] for i in ids])
        changed.update(user_scopes(user_id, *ids, closed=True))
        changed.add(trades_scope(user_id))
    by_id = {row["id"]: row for row in closed}
    payout = sum(
        (rows[i]["shares"] * price for i, price in zip(ids, prices, strict=True)), Decimal(0)
    )
    return Redemption(payout, [by_id[i] for i in ids])


def _checked(position_ids: Sequence[str]) -> list[int]:
    """The ids as bigints; NotFound for one that cannot be a position, BadUserInput for an
    empty list or an id given twice."""
    if not position_ids:
        raise BadUserInput(
            "positionIds: the list is empty; expected at least one position id.",
            field="positionIds",
        )
    seen: dict[int, int] = {}
    for index, raw in enumerate(position_ids):
        parsed = parse_bigint_id(raw)
        if parsed is None:
            raise _not_theirs(index, raw)
        if parsed in seen:
            raise BadUserInput(
                f"positionIds[{index}]: position {parsed} is listed twice (also "
                f"positionIds[{seen[parsed]}]); expected each position once.",
                field=f"positionIds[{index}]",
            )
        seen[parsed] = index
    return list(seen)


def _payout_price(index: int, row: asyncpg.Record | None, raw: str) -> Decimal:
    """The price the position closes at, or why it cannot be redeemed."""
    field = f"positionIds[{index}]"
    if row is None:
        raise _not_theirs(index, raw)
    if row["status"] != "ACTIVE":
        raise BadUserInput(
            f"{field}: position {row['id']} is {row['status']}; only an ACTIVE position can be "
            "redeemed.",
            field=field,
        )
    if not row["resolved"]:
        raise BadUserInput(
            f"{field}: the market of position {row['id']} has not resolved; a position is "
            "redeemed once its market has.",
            field=field,
        )
    return payout_price(row["outcome"], row["winning_outcome"])


def _not_theirs(index: int, raw: str) -> NotFound:
    return NotFound(
        f"positionIds[{index}]: {raw!r} is not one of this user's positions.",
        field=f"positionIds[{index}]",
    )
