"""What a resolved market pays: 1 per share of the winning outcome, 0 for the others.

Pure, like valuation.py: Claimable computes each position's payout when read, from the market's
resolution, and redeemPositions closes each position at the same payout price.
"""

from __future__ import annotations

from decimal import Decimal

ONE = Decimal(1)
ZERO = Decimal(0)


def payout_price(outcome: str, winning_outcome: str) -> Decimal:
    """1 for a position on the winning outcome, else 0 (names match case-insensitively)."""
    return ONE if outcome.casefold() == winning_outcome.casefold() else ZERO


def payout(shares: Decimal, outcome: str, winning_outcome: str | None) -> Decimal | None:
    """shares x the payout price; None while the market has not resolved."""
    return None if winning_outcome is None else shares * payout_price(outcome, winning_outcome)
