"""Resolvers of Query's fields: validate the arguments, then one loader call each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from cache.kinds import TrendingPage
from context import Info
from domain.cursors import decode_cursor, encode_cursor
from domain.identifiers import parse_bigint_id
from errors import BadUserInput, check_list_size
from schema.connection import MarketConnection, MarketEdge, PageInfo

if TYPE_CHECKING:
    from schema.market import Market
    from schema.position import Position
    from schema.user import User

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
    _check_first("first", first, TRENDING_MAX)
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
    _check_first("first", first, SEARCH_MAX)
    if len(text) > SEARCH_TEXT_MAX:
        raise BadUserInput(
            f"text: {len(text)} characters is too long; at most {SEARCH_TEXT_MAX}.", field="text"
        )
    return await _markets(info, await info.context.loaders.search.load((text, first)))


async def _markets(info: Info, ids: list[str]) -> list[Market]:
    # A market deleted since the list was cached is left out rather than shown as a gap.
    return [m for m in await info.context.loaders.market.load_all(ids) if m is not None]


def _check_first(field: str, first: int, most: int) -> None:
    if not 1 <= first <= most:
        raise BadUserInput(f"{field}: {first} is out of range; expected 1 to {most}.", field=field)
