"""SmartTrade: a BUY of a watched wallet in the smart-wallet feed, and its connection.

The trade keeps its token id; its market and outcome come from the token (the feed's statement
finds them). The wallet and the market are read through their loaders when asked for
(resolvers/smart_trades.py), so they show the wallet's current statistics and current prices.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers import smart_trades
from schema.connection import PageInfo
from schema.enums import TradeSide
from schema.market import Market
from schema.rows import FromRow
from schema.wallet import Wallet


@strawberry.type(description="A trade of a watched wallet.")
class SmartTrade:
    id: strawberry.ID = strawberry.field(description="The wallet tracker's id of the trade.")
    token_id: str
    side: TradeSide
    outcome: str | None = strawberry.field(
        description="The outcome the token stands for, spelled as its market spells it."
    )
    shares: Decimal
    price: Decimal
    value: Decimal = strawberry.field(description="shares x price.")
    executed_at: datetime
    wallet_address: str
    market_id: strawberry.ID | None = strawberry.field(
        description="The market holding the token; null if none does."
    )

    wallet: Wallet = strawberry.field(
        resolver=smart_trades.wallet, description="The wallet's current statistics."
    )
    market: Market | None = strawberry.field(resolver=smart_trades.market)


@strawberry.type
class SmartTradeEdge:
    cursor: str
    node: SmartTrade


@strawberry.type
class SmartTradeConnection:
    edges: list[SmartTradeEdge]
    page_info: PageInfo


smart_trade_from_row = FromRow(SmartTrade)
