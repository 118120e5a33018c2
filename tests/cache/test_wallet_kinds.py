"""The wallets' kinds read back as they were read (tests/cache/test_kinds.py, for these three):
a warm read equals the cold one in value and in type, and builds the same objects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from cache import kinds
from schema.smart_trade import smart_trade_from_row
from schema.wallet import leaderboard_entry_from_row, wallet_from_row
from settings import Settings
from tests.cache.test_kinds import plain, read_twice, typed
from tests.conftest import GraphQLClient, contract_documents
from tests.wallet_inputs import new_address, real_tokens, stats, trade

BUILDERS: dict[str, Any] = {
    "wallet": wallet_from_row,
    "leaderboard": lambda rows: [leaderboard_entry_from_row(row) for row in rows],
    "smart_trades": lambda rows: [smart_trade_from_row(row) for row in rows],
}


async def keys_of(kind: kinds.Kind[Any], db: asyncpg.Connection) -> list[Any]:
    if kind is kinds.WALLET:
        rows = await db.fetch("SELECT address FROM wallet ORDER BY address LIMIT 3")
        return [row["address"] for row in rows]
    if kind is kinds.LEADERBOARD:
        return [("SMARTSCORE", 3), ("WIN_RATE", 2), ("REALIZED_PNL", 1)]
    return [kinds.SmartTradesPage(None, None, Decimal(0), Decimal(0), 5)]


@pytest.mark.parametrize(
    "kind", [kinds.WALLET, kinds.LEADERBOARD, kinds.SMART_TRADES], ids=lambda k: k.name
)
async def test_a_warm_read_equals_the_cold_one_in_value_and_type(
    kind: kinds.Kind[Any],
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    gql: GraphQLClient,
) -> None:
    # A trade of the test's own, so the feed has one whatever ran before.
    wallet = new_address()
    (token,) = await real_tokens(db, 1)
    for operation, variables in (
        ("UpdateWalletStats", {"wallets": [stats(wallet)]}),
        ("RecordWalletTrades", {"trades": [trade(wallet, token)]}),
    ):
        assert (await gql(contract_documents(), variables, operation)).errors == []
    keys = await keys_of(kind, db)
    cold, warm, misses = await read_twice(settings, seeded, kind, keys)
    assert misses == [keys]  # the second read was all hits
    assert cold.keys() == warm.keys()
    assert all(cold[key] for key in keys)
    for key in keys:
        assert typed(plain(warm[key])) == typed(plain(cold[key]))
        assert BUILDERS[kind.name](warm[key]) == BUILDERS[kind.name](cold[key])
