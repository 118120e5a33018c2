"""The contract's enums."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum
class PositionStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


@strawberry.enum
class TradeSide(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"


@strawberry.enum
class TriggerKind(enum.Enum):
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"


@strawberry.enum
class TradeKind(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"
    REDEEM = "REDEEM"


@strawberry.enum(description="The statistic the leaderboard orders watched wallets by.")
class LeaderboardOrder(enum.Enum):
    REALIZED_PNL = "REALIZED_PNL"
    SMARTSCORE = "SMARTSCORE"
    WIN_RATE = "WIN_RATE"
