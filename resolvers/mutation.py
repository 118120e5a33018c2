"""Resolvers of Mutation's fields: hand the input to writes/, shape what it returns.

Each write checks its whole input before it writes anything and runs in one transaction;
these functions only translate between GraphQL types and the writes' plain values.
"""

from __future__ import annotations

from decimal import Decimal

import strawberry

from context import Info
from errors import check_list_size
from schema.enums import TriggerKind
from schema.inputs import (
    MarketPriceInput,
    MarketResolutionInput,
    PositionSnapshotInput,
    RecordTradeInput,
    UpsertUserInput,
    WalletStatsInput,
    WalletTradeInput,
)
from schema.payloads import (
    RecordTradePayload,
    RecordWalletTradesPayload,
    RedeemPositionsPayload,
    RejectedPriceUpdate,
    RejectedResolution,
    RejectedWalletTrade,
    ResolveMarketsPayload,
    SyncPositionsPayload,
    TriggeredLevel,
    UpdateMarketPricesPayload,
    UpdateWalletStatsPayload,
)
from schema.position import Position, position_from_row
from schema.user import User, user_from_row
from writes import levels, prices, redemptions, sync, trades, users
from writes import resolutions as resolutions_
from writes import wallets as writes_wallets
from writes.triggers import TriggerStream


async def upsert_user(info: Info, input: UpsertUserInput) -> User:
    row = await users.upsert_user(
        info.context.database,
        info.context.cache.store,
        telegram_id=input.telegram_id,
        username=input.username,
        polygon_address=input.polygon_address,
    )
    return user_from_row(row)


async def record_trade(info: Info, input: RecordTradeInput) -> RecordTradePayload:
    row = await trades.record_trade(
        info.context.database,
        info.context.cache.store,
        telegram_id=input.telegram_id,
        market_id=input.market_id,
        outcome=input.outcome,
        side=input.side.value,
        shares=input.shares,
        price=input.price,
    )
    return RecordTradePayload(position=position_from_row(row))


async def set_tp_sl(
    info: Info,
    position_id: strawberry.ID,
    take_profit_price: Decimal | None = strawberry.UNSET,
    stop_loss_price: Decimal | None = strawberry.UNSET,
) -> Position:
    row = await levels.set_tp_sl(
        info.context.database,
        info.context.cache.store,
        position_id=position_id,
        take_profit_price=take_profit_price,
        stop_loss_price=stop_loss_price,
    )
    return position_from_row(row)


async def sync_positions(
    info: Info, telegram_id: strawberry.ID, positions: list[PositionSnapshotInput]
) -> SyncPositionsPayload:
    check_list_size("positions", len(positions), info.context.settings.max_list_items)
    result = await sync.sync_positions(
        info.context.database,
        info.context.cache.store,
        telegram_id=telegram_id,
        holdings=[sync.Holding(p.token_id, p.shares, p.avg_price) for p in positions],
    )
    return SyncPositionsPayload(
        opened=result.opened,
        updated=result.updated,
        closed=result.closed,
        skipped_token_ids=result.skipped_token_ids,
    )


async def update_market_prices(
    info: Info, updates: list[MarketPriceInput]
) -> UpdateMarketPricesPayload:
    check_list_size("updates", len(updates), info.context.settings.max_list_items)
    store = info.context.cache.store
    result = await prices.update_market_prices(
        info.context.database,
        store,
        TriggerStream(store, info.context.settings.trigger_stream_key),
        [prices.PriceUpdate(u.market_id, u.outcome_prices) for u in updates],
    )
    return UpdateMarketPricesPayload(
        updated=result.updated,
        rejected=[
            RejectedPriceUpdate(market_id=strawberry.ID(r.market_id), reason=r.reason)
            for r in result.rejected
        ],
        triggered=[
            TriggeredLevel(
                position_id=strawberry.ID(str(t.position_id)),
                kind=TriggerKind(t.kind),
                price=t.price,
            )
            for t in result.triggered
        ],
    )


async def resolve_markets(
    info: Info, resolutions: list[MarketResolutionInput]
) -> ResolveMarketsPayload:
    check_list_size("resolutions", len(resolutions), info.context.settings.max_list_items)
    result = await resolutions_.resolve_markets(
        info.context.database,
        info.context.cache.store,
        [resolutions_.Resolution(r.market_id, r.winning_outcome) for r in resolutions],
    )
    return ResolveMarketsPayload(
        resolved=result.resolved,
        rejected=[
            RejectedResolution(market_id=strawberry.ID(r.market_id), reason=r.reason)
            for r in result.rejected
        ],
    )


async def redeem_positions(
    info: Info, telegram_id: strawberry.ID, position_ids: list[strawberry.ID]
) -> RedeemPositionsPayload:
    check_list_size("positionIds", len(position_ids), info.context.settings.max_list_items)
    result = await redemptions.redeem_positions(
        info.context.database,
        info.context.cache.store,
        telegram_id=telegram_id,
        position_ids=position_ids,
    )
    return RedeemPositionsPayload(
        payout=result.payout, positions=[position_from_row(row) for row in result.positions]
    )


async def record_wallet_trades(
    info: Info, trades: list[WalletTradeInput]
) -> RecordWalletTradesPayload:
    check_list_size("trades", len(trades), info.context.settings.max_list_items)
    result = await writes_wallets.record_wallet_trades(
        info.context.database,
        info.context.cache.store,
        [
            writes_wallets.WalletTrade(
                t.id, t.wallet, t.token_id, t.side.value, t.shares, t.price, t.executed_at
            )
            for t in trades
        ],
    )
    return RecordWalletTradesPayload(
        recorded=result.recorded,
        duplicates=result.duplicates,
        rejected=[RejectedWalletTrade(id=r.id, reason=r.reason) for r in result.rejected],
    )


async def update_wallet_stats(
    info: Info, wallets: list[WalletStatsInput]
) -> UpdateWalletStatsPayload:
    check_list_size("wallets", len(wallets), info.context.settings.max_list_items)
    updated = await writes_wallets.update_wallet_stats(
        info.context.database,
        info.context.cache.store,
        [
            writes_wallets.WalletStats(
                w.address, w.smartscore, w.win_rate, w.markets_traded, w.realized_pnl
            )
            for w in wallets
        ],
    )
    return UpdateWalletStatsPayload(updated=updated)
