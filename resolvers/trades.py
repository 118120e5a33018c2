"""Resolvers of Trade's fields: its market, through the market loader (loaded with the page)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import strawberry

from context import Info
from resolvers.positions import at_once_or_later

if TYPE_CHECKING:
    from schema.market import Market
    from schema.trade import Trade


@at_once_or_later
def market(trade: strawberry.Parent[Trade], info: Info) -> Market | Awaitable[Market | None] | None:
    # The trades loader loaded the page's markets in its batch: usually answered at once.
    loaded = info.context.loaders.market.load(trade.market_id)
    return loaded.result() if loaded.done() else loaded
