"""TriggerEvent: one fired take-profit or stop-loss level, as the `triggers` subscription sends it
(resolvers/subscription.py makes it from the trigger stream's entry)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.enums import TriggerKind


@strawberry.type
class TriggerEvent:
    id: str = strawberry.field(
        description="Opaque and increasing (later events have greater ids, as strings); pass "
        "the last one seen as `after` to resume."
    )
    position_id: strawberry.ID
    telegram_id: strawberry.ID = strawberry.field(description="The position's user's.")
    market_id: strawberry.ID
    kind: TriggerKind
    price: Decimal = strawberry.field(description="The outcome price that crossed the level.")
    fired_at: datetime
