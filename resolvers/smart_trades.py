"""Resolvers of SmartTrade's fields read through loaders: its wallet and its market.

The feed's loader loads its trades' wallets and markets in one batch each before it answers
(loaders/smart_trades.py), so each field answers at once rather than returning an awaitable
(graphql-core would make a task of each; see resolvers/positions.py for the measurement).
"""

from __future__ import annotations

from asyncio import Future
from typing import TYPE_CHECKING, TypeVar, cast

import strawberry

from context import Info
from resolvers.positions import at_once_or_later

if TYPE_CHECKING:
    from schema.market import Market
    from schema.smart_trade import SmartTrade
    from schema.wallet import Wallet

T = TypeVar("T")


@at_once_or_later
def wallet(trade: strawberry.Parent[SmartTrade], info: Info) -> Wallet | Future[Wallet]:
    # Never None: a trade's wallet is a foreign key, and nothing deletes a wallet.
    loaded = cast("Future[Wallet]", info.context.loaders.wallet.load(trade.wallet_address))
    return _at_once(loaded)


@at_once_or_later
def market(
    trade: strawberry.Parent[SmartTrade], info: Info
) -> Market | Future[Market | None] | None:
    if trade.market_id is None:
        return None
    return _at_once(info.context.loaders.market.load(trade.market_id))


def _at_once(loaded: Future[T]) -> T | Future[T]:
    """The value if its batch is done (raising its error, for this field), else the load."""
    return loaded.result() if loaded.done() else loaded
