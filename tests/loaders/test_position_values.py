"""Position values: computed once per position and request, from the market the loader holds;
a market whose batch failed fails the values of its positions only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
import strawberry
from aiodataloader import DataLoader

from loaders.markets import MarketLoader
from loaders.position_values import PositionValues
from schema.enums import PositionStatus
from schema.market import Market
from schema.position import Position


def market(id_: str, prices: list[str]) -> Market:
    return Market(
        id=strawberry.ID(id_),
        title=f"market {id_}",
        slug=f"market-{id_}",
        condition_id="0x" + "0" * 64,
        outcomes=["Yes", "No"],
        outcome_prices=[Decimal(p) for p in prices],
        clob_token_ids=["1", "2"],
        volume=Decimal(0),
        liquidity=Decimal(0),
        end_date=None,
        active=True,
        resolved=False,
        winning_outcome=None,
        resolved_at=None,
    )


def position(id_: str, market_id: str, outcome: str = "Yes") -> Position:
    return Position(
        id=strawberry.ID(id_),
        market_id=strawberry.ID(market_id),
        outcome=outcome,
        status=PositionStatus.ACTIVE,
        shares=Decimal(10),
        entry_price=Decimal("0.5"),
        realized_pnl=Decimal(0),
        take_profit_price=None,
        stop_loss_price=None,
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        closed_at=None,
    )


class Markets(DataLoader[str, Market | None]):
    """The market loader's contract: a batch of ids, one market (or None, or an error) each."""

    def __init__(self, markets: dict[str, Market | Exception]) -> None:
        super().__init__()
        self.markets = markets
        self.batches: list[list[str]] = []

    async def batch_load_fn(self, keys: list[str]) -> list[Any]:
        self.batches.append(keys)
        return [self.markets.get(key) for key in keys]

    async def load_all(self, keys: list[str]) -> list[Market | None]:
        return await self.load_many(keys)


async def test_four_values_from_one_lookup_kept_for_the_request() -> None:
    markets = Markets({"1": market("1", ["0.8", "0.2"]), "2": market("2", ["0.1", "0.9"])})
    values = PositionValues(cast(MarketLoader, markets))
    held = [position("10", "1"), position("11", "2", "No"), position("12", "3")]

    first = await values.all_of(held)

    assert [tuple(v) for v in first] == [
        (Decimal("0.8"), Decimal("8.0"), Decimal("3.0"), Decimal("60")),
        (Decimal("0.9"), Decimal("9.0"), Decimal("4.0"), Decimal("80")),
        (None, None, None, None),  # no such market: no price, so no values
    ]
    assert markets.batches == [["1", "2", "3"]]  # one batch for every position's market
    assert values.of(held[0]) is first[0]  # asked again: the same values, no new lookup


async def test_a_failed_market_fails_its_positions_only() -> None:
    markets = Markets({"1": market("1", ["0.8", "0.2"]), "2": RuntimeError("batch failed")})
    values = PositionValues(cast(MarketLoader, markets))
    fine, failing = position("10", "1"), position("11", "2")

    loading = [values.of(fine), values.of(failing)]  # neither market loaded yet: awaitables

    assert (await cast(Any, loading[0])).price == Decimal("0.8")
    with pytest.raises(RuntimeError, match="batch failed"):
        await cast(Any, loading[1])
    with pytest.raises(RuntimeError, match="batch failed"):  # nothing kept for it
        await cast(Any, values.of(failing))
