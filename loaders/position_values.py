"""A position's current price, value and P&L, once per request, from its market.

A Portfolio asks each position for currentPrice, value, pnl and pnlPercent, and the totals ask
again: five lookups of the same outcome's price in the same market, five loads of the market.
The market loader memoises per request, so every one of them sees the same market: the four
values are computed together the first time and kept for the rest of the request (never
longer: the next request may see a new price).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from domain import valuation
from domain.valuation import Valued
from loaders.markets import MarketLoader

if TYPE_CHECKING:
    from schema.market import Market
    from schema.position import Position


class PositionValues:
    def __init__(self, markets: MarketLoader) -> None:
        self.markets = markets
        # By the position's identity; the position is held, so that its id stays its own.
        self._known: dict[int, tuple[Position, Valued]] = {}

    def of(self, position: Position) -> Valued | Awaitable[Valued]:
        """At once when the market is loaded (the position loaders load it with the list), else
        once the loader has it; raises, for the field asking, if the market's batch failed."""
        known = self._known.get(id(position))
        if known is not None and known[0] is position:
            return known[1]
        loaded = self.markets.load(position.market_id)
        if loaded.done():
            return self._keep(position, loaded.result())
        return self._when_loaded(position, loaded)

    async def all_of(self, positions: list[Position]) -> list[Valued]:
        """The values of every position, their markets loaded in one batch (no gather: see
        CachedLoader.load_all)."""
        await self.markets.load_all([position.market_id for position in positions])
        return [cast(Valued, self.of(position)) for position in positions]  # loaded: at once

    async def _when_loaded(self, position: Position, loaded: Awaitable[Market | None]) -> Valued:
        return self._keep(position, await loaded)

    def _keep(self, position: Position, market: Market | None) -> Valued:
        valued = valuation.valued(
            position.shares, position.entry_price, valuation.price_in(market, position.outcome)
        )
        self._known[id(position)] = (position, valued)
        return valued
