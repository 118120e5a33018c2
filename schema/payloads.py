"""What the mutations return."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.enums import TriggerKind
from schema.position import Position


@strawberry.type
class RecordTradePayload:
    position: Position


@strawberry.type
class SyncPositionsPayload:
    opened: int
    updated: int
    closed: int
    skipped_token_ids: list[str] = strawberry.field(
        description="Token ids that map to no known market, once each, in input order."
    )


@strawberry.type
class RejectedPriceUpdate:
    market_id: strawberry.ID
    reason: str


@strawberry.type
class TriggeredLevel:
    position_id: strawberry.ID
    kind: TriggerKind
    price: Decimal = strawberry.field(description="The outcome price that crossed the level.")


@strawberry.type
class UpdateMarketPricesPayload:
    updated: int
    rejected: list[RejectedPriceUpdate]
    triggered: list[TriggeredLevel]


@strawberry.type
class RejectedResolution:
    market_id: strawberry.ID
    reason: str


@strawberry.type
class RejectedWalletTrade:
    id: str
    reason: str


@strawberry.type
class ResolveMarketsPayload:
    resolved: int = strawberry.field(
        description="Markets resolved by this call (a repeated resolution is not counted)."
    )
    rejected: list[RejectedResolution]


@strawberry.type
class RedeemPositionsPayload:
    payout: Decimal = strawberry.field(description="Sum of shares x payout price.")
    positions: list[Position] = strawberry.field(description="In the order given.")


@strawberry.type
class RecordWalletTradesPayload:
    recorded: int
    duplicates: int = strawberry.field(description="Entries whose id was already stored.")
    rejected: list[RejectedWalletTrade]


@strawberry.type
class UpdateWalletStatsPayload:
    updated: int = strawberry.field(description="The entries of the call, repeats included.")
