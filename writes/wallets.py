"""The wallet tracker's writes: updateWalletStats and recordWalletTrades.

updateWalletStats is all or nothing: every entry is checked before the transaction opens
(BAD_USER_INPUT naming the entry), then one INSERT ... ON CONFLICT writes them all; an address
named twice takes its last entry.

recordWalletTrades judges entries one by one, in order, against what one statement read for
the whole call (stored ids, watched wallets, known tokens): an id already stored is a
duplicate, looked at before anything else, so a tracker may resend a batch; a bad entry is
rejected with its reason; the rest are inserted by one statement. A concurrent call storing the
same id first makes it a duplicate here too (the insert skips it).

Both retire the shared feed after their commit (a new trade, or a wallet's win rate moving it
in or out of the filter); new statistics retire the leaderboard and the wallets too
(cache/keys.py WALLET_FEED, WALLET_STATS), on every process at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sql
from cache.keys import WALLET_FEED, WALLET_STATS
from cache.store import CacheStore
from errors import BadUserInput
from sql.database import Database
from writes.checks import (
    check_price,
    check_shares,
    check_statistic,
    check_text,
    check_wallet_address,
)
from writes.transaction import write_transaction


@dataclass(frozen=True)
class WalletStats:
    address: str
    smartscore: Decimal
    win_rate: Decimal
    markets_traded: int
    realized_pnl: Decimal


@dataclass(frozen=True)
class WalletTrade:
    id: str
    wallet: str
    token_id: str
    side: str  # "BUY" | "SELL"
    shares: Decimal
    price: Decimal
    executed_at: datetime


@dataclass(frozen=True)
class Rejected:
    id: str
    reason: str


@dataclass(frozen=True)
class WalletTradesResult:
    recorded: int
    duplicates: int
    rejected: list[Rejected]


async def update_wallet_stats(
    database: Database, cache: CacheStore, entries: list[WalletStats]
) -> int:
    """Insert or replace each address's statistics; how many entries the call had."""
    latest = {stats.address: stats for stats in _checked_stats(entries)}
    if not latest:
        return 0
    # In address order, so two calls naming the same wallets lock them in the same order.
    rows = sorted(latest.values(), key=lambda stats: stats.address)
    async with write_transaction(database, cache) as (tx, changed):
        await tx.execute(
            sql.UPSERT_WALLET_STATS,
            [s.address for s in rows],
            [s.smartscore for s in rows],
            [s.win_rate for s in rows],
            [s.markets_traded for s in rows],
            [s.realized_pnl for s in rows],
        )
        changed.update((WALLET_FEED, WALLET_STATS))
    return len(entries)


def _checked_stats(entries: list[WalletStats]) -> list[WalletStats]:
    """Every entry at the stored scale, address lowercased; BadUserInput for the first bad one."""
    checked = []
    for index, stats in enumerate(entries):
        field = f"wallets[{index}]"
        if stats.markets_traded < 0:
            raise BadUserInput(
                f"{field}.marketsTraded: {stats.markets_traded} is out of range; expected 0 or "
                "more.",
                field=f"{field}.marketsTraded",
            )
        checked.append(
            WalletStats(
                address=check_wallet_address(f"{field}.address", stats.address),
                smartscore=check_statistic(f"{field}.smartscore", stats.smartscore),
                win_rate=check_statistic(
                    f"{field}.winRate", stats.win_rate, low=Decimal(0), high=Decimal(1)
                ),
                markets_traded=stats.markets_traded,
                realized_pnl=check_statistic(f"{field}.realizedPnl", stats.realized_pnl),
            )
        )
    return checked


async def record_wallet_trades(
    database: Database, cache: CacheStore, trades: list[WalletTrade]
) -> WalletTradesResult:
    if not trades:
        return WalletTradesResult(0, 0, [])
    async with write_transaction(database, cache) as (tx, changed):
        # PostgreSQL text cannot hold NUL: such a value is unknown without asking.
        facts = await tx.fetchrow(
            sql.WALLET_TRADE_FACTS,
            sorted({t.id for t in trades if "\x00" not in t.id}),
            sorted({t.wallet.lower() for t in trades if "\x00" not in t.wallet}),
            sorted({t.token_id for t in trades if "\x00" not in t.token_id}),
        )
        assert facts is not None  # a SELECT of three arrays: always one row
        stored: set[str] = set(facts["stored_ids"])
        watched: set[str] = set(facts["watched"])
        tokens: set[str] = set(facts["known_tokens"])
        accepted: list[WalletTrade] = []
        rejected: list[Rejected] = []
        duplicates = 0
        for index, trade in enumerate(trades):
            if trade.id in stored:
                duplicates += 1
                continue
            try:
                checked = _checked_trade(f"trades[{index}]", trade, watched, tokens)
            except BadUserInput as error:
                rejected.append(Rejected(trade.id, error.message))
                continue
            accepted.append(checked)
            stored.add(checked.id)  # the same id later in the call is a duplicate
        inserted = 0
        if accepted:
            # In id order, so two calls sending the same trades wait on each other's ids in
            # the same order instead of deadlocking.
            accepted.sort(key=lambda t: t.id)
            rows = await tx.fetch(
                sql.INSERT_WALLET_TRADES,
                [t.id for t in accepted],
                [t.wallet for t in accepted],
                [t.token_id for t in accepted],
                [t.side for t in accepted],
                [t.shares for t in accepted],
                [t.price for t in accepted],
                [t.executed_at for t in accepted],
            )
            inserted = len(rows)
            if inserted:
                changed.add(WALLET_FEED)
    # Skipped by the insert: stored by a concurrent call since this one read the ids.
    return WalletTradesResult(inserted, duplicates + len(accepted) - inserted, rejected)


def _checked_trade(
    field: str, trade: WalletTrade, watched: set[str], tokens: set[str]
) -> WalletTrade:
    """The trade as stored (wallet lowercased, numbers at their scale); BadUserInput with the
    reason to report."""
    check_text(f"{field}.id", trade.id)
    if not trade.id:
        raise BadUserInput(f"{field}.id: the id is empty.", field=f"{field}.id")
    wallet = trade.wallet.lower()
    if wallet not in watched:
        raise BadUserInput(
            f"{field}.wallet: {trade.wallet!r} is not a watched wallet.", field=f"{field}.wallet"
        )
    if trade.token_id not in tokens:
        raise BadUserInput(
            f"{field}.tokenId: {trade.token_id!r} is not a token of any known market.",
            field=f"{field}.tokenId",
        )
    if trade.executed_at.tzinfo is None:
        raise BadUserInput(
            f"{field}.executedAt: {trade.executed_at.isoformat()} has no UTC offset; expected "
            "ISO 8601 with one.",
            field=f"{field}.executedAt",
        )
    return WalletTrade(
        id=trade.id,
        wallet=wallet,
        token_id=trade.token_id,
        side=trade.side,
        shares=check_shares(f"{field}.shares", trade.shares, positive=True),
        price=check_price(f"{field}.price", trade.price),
        executed_at=trade.executed_at,
    )
