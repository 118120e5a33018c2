"""Wallet: a watched ("smart") wallet and its current statistics; LeaderboardEntry: its place."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.rows import FromRow
from sql.database import Row


@strawberry.type(description="A watched wallet with its current statistics.")
class Wallet:
    address: str = strawberry.field(description="0x and 40 hex digits, lowercased.")
    smartscore: Decimal
    win_rate: Decimal = strawberry.field(description="A fraction, from 0 to 1.")
    markets_traded: int
    realized_pnl: Decimal


@strawberry.type
class LeaderboardEntry:
    rank: int = strawberry.field(
        description="The 1-based place in the chosen order; tied wallets get consecutive ranks."
    )
    wallet: Wallet


wallet_from_row = FromRow(Wallet)


def leaderboard_entry_from_row(row: Row) -> LeaderboardEntry:
    """A leaderboard row holds its rank and the wallet's columns."""
    return LeaderboardEntry(rank=row["rank"], wallet=wallet_from_row(row))
