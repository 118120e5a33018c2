"""setTpSl: take-profit and stop-loss levels of an ACTIVE position.

Each level is UNSET (omitted: keep it), None (clear it) or a price strictly between 0 and 1.
The order rule (stop loss < take profit) is judged on the levels as they stand after the call.
With both levels sent (the bot's way) they are all there is to judge: one guarded UPDATE is the
whole write, and only when it finds no ACTIVE position does a second statement say why. With
one omitted, the row is read with FOR UPDATE first: the stored level that the omitted argument
keeps cannot change between that check and the write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NoReturn

import asyncpg
from strawberry.types.unset import UnsetType

import sql
from cache.store import CacheStore
from domain.identifiers import parse_bigint_id
from errors import BadUserInput, NotFound
from sql.database import Database
from writes.checks import check_level, plain
from writes.transaction import user_scopes, write_transaction


async def set_tp_sl(
    database: Database,
    cache: CacheStore,
    *,
    position_id: str,
    take_profit_price: Decimal | UnsetType | None,
    stop_loss_price: Decimal | UnsetType | None,
) -> asyncpg.Record:
    key = parse_bigint_id(position_id)
    if key is None:
        raise _unknown(position_id)
    if isinstance(take_profit_price, Decimal):
        take_profit_price = check_level("takeProfitPrice", take_profit_price)
    if isinstance(stop_loss_price, Decimal):
        stop_loss_price = check_level("stopLossPrice", stop_loss_price)
    if not isinstance(take_profit_price, UnsetType) and not isinstance(stop_loss_price, UnsetType):
        _check_order(take_profit_price, stop_loss_price, field="stopLossPrice")
        async with write_transaction(database, cache) as (tx, changed):
            updated = await tx.fetchrow(sql.SET_LEVELS, key, take_profit_price, stop_loss_price)
            if updated is None:
                _refuse(position_id, key, await tx.fetchrow(sql.POSITION_FOR_UPDATE, key))
            changed.update(user_scopes(updated["user_id"], key, closed=False))
        return updated
    async with write_transaction(database, cache) as (tx, changed):
        row = await tx.fetchrow(sql.POSITION_FOR_UPDATE, key)
        if row is None or row["status"] != "ACTIVE" or row["market_resolved"]:
            _refuse(position_id, key, row)
        if isinstance(take_profit_price, UnsetType) and isinstance(stop_loss_price, UnsetType):
            return row  # nothing to change; the position as it is
        take_profit = _after(take_profit_price, row["take_profit_price"])
        stop_loss = _after(stop_loss_price, row["stop_loss_price"])
        # Name the level this call sent.
        sent = "takeProfitPrice" if isinstance(stop_loss_price, UnsetType) else "stopLossPrice"
        _check_order(take_profit, stop_loss, field=sent)
        updated = await tx.fetchrow(sql.SET_LEVELS, key, take_profit, stop_loss)
        assert updated is not None  # the row and its market are locked: nothing moved
        changed.update(user_scopes(row["user_id"], key, closed=False))
    return updated


def _check_order(take_profit: Decimal | None, stop_loss: Decimal | None, *, field: str) -> None:
    if take_profit is not None and stop_loss is not None and stop_loss >= take_profit:
        raise BadUserInput(
            f"{field}: stop loss {plain(stop_loss)} would not be below take profit "
            f"{plain(take_profit)}; expected stopLossPrice < takeProfitPrice.",
            field=field,
        )


def _refuse(position_id: str, key: int, row: asyncpg.Record | None) -> NoReturn:
    """Why no level can be set: the position is unknown, no longer ACTIVE, or its market
    resolved (its levels could never fire)."""
    if row is None:
        raise _unknown(position_id)
    if row["status"] == "ACTIVE" and row["market_resolved"]:
        raise BadUserInput(
            f"positionId: position {key} is in market {row['market_id']!r}, which is resolved; "
            "its levels can no longer be set (redeemPositions settles it).",
            field="positionId",
        )
    raise BadUserInput(
        f"positionId: position {key} is {row['status']}; levels can only be set on an "
        "ACTIVE position.",
        field="positionId",
    )


def _after(given: Decimal | UnsetType | None, stored: Decimal | None) -> Decimal | None:
    """A level after the call: omitted keeps the stored one, None clears it."""
    return stored if isinstance(given, UnsetType) else given


def _unknown(position_id: str) -> NotFound:
    return NotFound(f"positionId: no position has id {position_id!r}.", field="positionId")
