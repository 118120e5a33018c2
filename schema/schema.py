"""Assembles Query and Mutation from the type modules and the resolvers into the schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers import mutation, query, subscription
from schema.connection import MarketConnection
from schema.execution.executor import AcyclicExecutor, planned_executor
from schema.execution.plans import Plans
from schema.extensions.debug_counts import DebugCounts
from schema.extensions.documents import Documents, ParseOnce
from schema.extensions.role_check import RoleCheck
from schema.extensions.runner import HookRunner
from schema.market import Market
from schema.payloads import (
    RecordTradePayload,
    RecordWalletTradesPayload,
    RedeemPositionsPayload,
    ResolveMarketsPayload,
    SyncPositionsPayload,
    UpdateMarketPricesPayload,
    UpdateWalletStatsPayload,
)
from schema.position import Position
from schema.scalars import DecimalScalar
from schema.smart_trade import SmartTradeConnection
from schema.trigger import TriggerEvent
from schema.user import User
from schema.wallet import LeaderboardEntry
from settings import Settings


@strawberry.type
class Query:
    user: User | None = strawberry.field(
        resolver=query.user, description="Null for an unknown or malformed Telegram id."
    )
    position: Position | None = strawberry.field(
        resolver=query.position, description="Null for an unknown or malformed id."
    )
    markets: list[Market | None] = strawberry.field(
        resolver=query.markets,
        description="One entry per id, same order, duplicates kept, null where unknown.",
    )
    market: Market | None = strawberry.field(resolver=query.market)
    market_by_token: Market | None = strawberry.field(resolver=query.market_by_token)
    market_by_condition: Market | None = strawberry.field(resolver=query.market_by_condition)
    trending_markets: MarketConnection = strawberry.field(
        resolver=query.trending_markets,
        description="Open markets, highest volume first, ties by id. first: 1 to 100.",
    )
    search_markets: list[Market] = strawberry.field(
        resolver=query.search_markets,
        description="Titles holding more of the text's words first, then higher volume. "
        "first: 1 to 50.",
    )
    smart_trades: SmartTradeConnection = strawberry.field(
        resolver=query.smart_trades,
        description="BUY trades of watched wallets passing the filters, newest first, ties by "
        "id. first: 1 to 100.",
    )
    leaderboard: list[LeaderboardEntry] = strawberry.field(
        resolver=query.leaderboard,
        description="Watched wallets by the statistic, highest first, ties by address. "
        "first: 1 to 100.",
    )


@strawberry.type
class Mutation:
    upsert_user: User = strawberry.field(resolver=mutation.upsert_user)
    record_trade: RecordTradePayload = strawberry.field(resolver=mutation.record_trade)
    set_tp_sl: Position = strawberry.field(resolver=mutation.set_tp_sl)
    sync_positions: SyncPositionsPayload = strawberry.field(resolver=mutation.sync_positions)
    update_market_prices: UpdateMarketPricesPayload = strawberry.field(
        resolver=mutation.update_market_prices
    )
    resolve_markets: ResolveMarketsPayload = strawberry.field(
        resolver=mutation.resolve_markets,
        description="Entries judged in order; bad ones listed in rejected, the rest applied.",
    )
    redeem_positions: RedeemPositionsPayload = strawberry.field(
        resolver=mutation.redeem_positions, description="All or nothing."
    )
    record_wallet_trades: RecordWalletTradesPayload = strawberry.field(
        resolver=mutation.record_wallet_trades
    )
    update_wallet_stats: UpdateWalletStatsPayload = strawberry.field(
        resolver=mutation.update_wallet_stats
    )


@strawberry.type
class Subscription:
    triggers: AsyncIterator[TriggerEvent] = strawberry.subscription(
        resolver=subscription.triggers,
        description="Each take-profit or stop-loss level as it fires, on any server process, "
        "over WebSocket (graphql-transport-ws). after: the id of the last event seen, to resume "
        "with nothing lost and nothing repeated; omitted: the events from now on.",
    )


class PolycoolSchema(strawberry.Schema):
    """Strawberry's schema with its parsed documents, shared with the view."""

    def __init__(self, documents: Documents, **options: Any) -> None:
        super().__init__(**options)
        self.documents = documents

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry logs every error, a user's typo included; web/shaping.py logs the internal
        # ones, with the request id the client is shown, as it masks them.
        return


def build_schema(
    settings: Settings | None = None,
) -> PolycoolSchema:
    """The schema with the deployment's limits; its SDL does not depend on the settings."""
    settings = settings or Settings()
    # The limits' validation rules are made once, here: the limiters make new classes each
    # time they are built. Refused before anything runs: oversized documents (while parsing),
    # deep nesting, alias floods, and introspection where it is off (validation rules).
    rules = (
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *(() if settings.introspection else (NoSchemaIntrospectionCustomRule,)),
    )
    # Parsed and validated once per document, bounded (PARSER_CACHE_SIZE): a client sending
    # endless distinct documents cannot grow memory.
    documents = Documents(settings.parser_cache_size, settings.max_tokens, rules)
    # Factories, not instances: each request gets its own extension objects.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ParseOnce, documents),
        RoleCheck,
        DebugCounts,
    ]
    return PolycoolSchema(
        documents,
        # Queries by their plans, graphql-core for the rest (schema/execution/executor.py).
        execution_context_class=(
            planned_executor(Plans(settings.parser_cache_size))
            if settings.execution_plans
            else AcyclicExecutor
        ),
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides={Decimal: DecimalScalar},
        config=StrawberryConfig(disable_field_suggestions=settings.app_env == "production"),
    )
