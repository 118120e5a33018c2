"""syncPositions: make the user's ACTIVE positions match the holdings read from the chain."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from database import Database


@dataclass(frozen=True)
class Holding:
    token_id: str
    shares: Decimal
    avg_price: Decimal


@dataclass(frozen=True)
class SyncResult:
    opened: int
    updated: int
    closed: int
    skipped_token_ids: list[str]


async def sync_positions(
    database: Database, *, telegram_id: str, holdings: list[Holding]
) -> SyncResult:
    raise NotImplementedError
