"""Portfolio: totals over a user's ACTIVE positions, computed when read."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import strawberry

from domain.valuation import Totals


@strawberry.type
class Portfolio:
    position_count: int = strawberry.field(description="All ACTIVE positions.")
    invested: Decimal = strawberry.field(
        description="Sum of entryPrice x shares over positions with a known current price."
    )
    value: Decimal
    pnl: Decimal
    pnl_percent: Decimal | None = strawberry.field(
        description="pnl / invested x 100; null when invested is 0."
    )


def portfolio_of(totals: Totals) -> Portfolio:
    """The totals as the schema shows them (the same names, computed in domain/valuation.py).

    Field by field: dataclasses.asdict deep-copies every Decimal, on every executed Portfolio.
    """
    return Portfolio(**{name: getattr(totals, name) for name in _TOTALS})


_TOTALS = tuple(field.name for field in dataclasses.fields(Totals))
