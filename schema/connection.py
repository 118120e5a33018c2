"""Cursor-paginated lists of markets (trendingMarkets)."""

from __future__ import annotations

import strawberry

from schema.market import Market


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class MarketEdge:
    cursor: str
    node: Market


@strawberry.type
class MarketConnection:
    edges: list[MarketEdge]
    page_info: PageInfo
