"""Claimable: a user's ACTIVE positions in resolved markets, what redeeming them would pay."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.position import Position


@strawberry.type
class Claimable:
    position_count: int = strawberry.field(description="Winners and losers alike.")
    payout: Decimal = strawberry.field(description="Sum of the positions' payouts.")
    positions: list[Position] = strawberry.field(
        description="Latest resolution first, then position id ascending."
    )
