"""Resolvers of Query's fields: validate the arguments, then one loader call each."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from cache.kinds import SmartTradesPage, TrendingPage
from context import Info
from domain.cursors import decode_cursor, decode_feed_cursor, encode_cursor, encode_feed_cursor
from domain.identifiers import parse_bigint_id
from errors import BadUserInput, check_first, check_list_size
from schema.connection import MarketConnection, MarketEdge, PageInfo
from schema.enums import LeaderboardOrder
from schema.smart_trade import SmartTradeConnection, SmartTradeEdge
from writes.checks import decimal_places

if TYPE_CHECKING:
    from schema.market import Market
    from schema.position import Position
    from schema.user import User
    from schema.wallet import LeaderboardEntry

TRENDING_MAX = 100
SEARCH_MAX = 50
SEARCH_TEXT_MAX = 200


async def user(info: Info, telegram_id: strawberry.ID) -> User | None:
    key = parse_bigint_id(telegram_id)
    return None if key is None else await info.context.loaders.user.load(key)


async def position(info: Info, id: strawberry.ID) -> Position | None:
    key = parse_bigint_id(id)
    return None if key is None else await info.context.loaders.position.load(key)


async def markets(info: Info, ids: list[strawberry.ID]) -> list[Market | None]:
    check_list_size("ids", len(ids), info.context.settings.max_list_items)
    return await info.context.loaders.market.load_all(ids)


async def market(info: Info, id: strawberry.ID) -> Market | None:
    return await info.context.loaders.market.load(id)


async def market_by_token(info: Info, token_id: str) -> Market | None:
    market_id = await info.context.loaders.market_id_by_token.load(token_id)
    return None if market_id is None else await info.context.loaders.market.load(market_id)


async def market_by_condition(info: Info, condition_id: str) -> Market | None:
    market_id = await info.context.loaders.market_id_by_condition.load(condition_id)
    return None if market_id is None else await info.context.loaders.market.load(market_id)


async def trending_markets(info: Info, first: int, after: str | None = None) -> MarketConnection:
    check_first("first", first, TRENDING_MAX)
    secret = info.context.settings.cursor_secret
    after_volume, after_id = decode_cursor(after, secret) if after is not None else (None, None)
    # One more than asked tells whether a next page exists without a count query.
    ids = await info.context.loaders.trending.load(TrendingPage(after_volume, after_id, first + 1))
    page = await _markets(info, ids)
    edges = [MarketEdge(cursor=encode_cursor(m.volume, m.id, secret), node=m) for m in page[:first]]
    return MarketConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(page) > first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def search_markets(info: Info, text: str, first: int) -> list[Market]:
    check_first("first", first, SEARCH_MAX)
    if len(text) > SEARCH_TEXT_MAX:
        raise BadUserInput(
            f"text: {len(text)} characters is too long; at most {SEARCH_TEXT_MAX}.", field="text"
        )
    return await _markets(info, await info.context.loaders.search.load((text, first)))


async def _markets(info: Info, ids: list[str]) -> list[Market]:
    # A market deleted since the list was cached is left out rather than shown as a gap.
    return [m for m in await info.context.loaders.market.load_all(ids) if m is not None]


SMART_TRADES_MAX = 100
LEADERBOARD_MAX = 100
# The old bot's feed: buys of at least $300 by wallets winning at least 55% of their markets.
SMART_TRADES_MIN_VALUE = Decimal(300)
SMART_TRADES_MIN_WIN_RATE = Decimal("0.55")
# A filter's bounds: what a NUMERIC(38,18) holds (anything beyond filters nothing more).
FILTER_DECIMALS = 18
FILTER_LIMIT = Decimal(10) ** 20


async def smart_trades(
    info: Info,
    first: int,
    after: str | None = None,
    min_value: Annotated[
        Decimal | None,
        strawberry.argument(
            description="Default 300 (also when null): shares x price at least this."
        ),
    ] = None,
    min_win_rate: Annotated[
        Decimal | None,
        strawberry.argument(
            description="Default 0.55 (also when null): the wallet's current winRate."
        ),
    ] = None,
) -> SmartTradeConnection:
    check_first("first", first, SMART_TRADES_MAX)
    secret = info.context.settings.cursor_secret
    after_at, after_id = decode_feed_cursor(after, secret) if after is not None else (None, None)
    page = SmartTradesPage(
        after_at,
        after_id,
        _filter("minValue", min_value, SMART_TRADES_MIN_VALUE),
        _filter("minWinRate", min_win_rate, SMART_TRADES_MIN_WIN_RATE),
        # One more than asked tells whether a next page exists without a count query.
        first + 1,
    )
    trades = await info.context.loaders.smart_trades.load(page)
    edges = [
        SmartTradeEdge(cursor=encode_feed_cursor(t.executed_at, t.id, secret), node=t)
        for t in trades[:first]
    ]
    return SmartTradeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(trades) > first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def leaderboard(info: Info, by: LeaderboardOrder, first: int) -> list[LeaderboardEntry]:
    check_first("first", first, LEADERBOARD_MAX)
    return await info.context.loaders.leaderboard.load((by.value, first))


def _filter(field: str, value: Decimal | None, default: Decimal) -> Decimal:
    """The filter's value, its default for null, in one spelling ("300.0" is "300": one entry)."""
    if value is None:
        return default
    if (
        not value.is_finite()
        or abs(value) >= FILTER_LIMIT
        or decimal_places(value) > FILTER_DECIMALS
    ):
        raise BadUserInput(
            f"{field}: {value} is not a usable filter; expected a number below 10^20 with at "
            f"most {FILTER_DECIMALS} decimals.",
            field=field,
        )
    # Wide enough never to round: normalize() in the default context keeps 28 digits only.
    canonical = value.normalize(Context(prec=2 * FILTER_DECIMALS + 20))
    return canonical if canonical else Decimal(0)  # -0 and 0E-5 are 0
