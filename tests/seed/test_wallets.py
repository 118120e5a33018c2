"""The seed's watched wallets: the CSV's 1,553 addresses, exactly as the file writes them.

The expected rows are read from the file here with the csv module (the header's "Adresse "
with its trailing space, the first row of a repeated address, numbers as their text), not
through seed/wallets.py. Seeding takes a database of its own, as tests/seed/test_load.py does.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from seed import SeedReport, seed_database
from seed.load import DEFAULT_WALLETS
from seed.wallets import read_wallets
from sql.databases import scratch_database

Expected = dict[str, tuple[Decimal, Decimal, int, Decimal]]


def expected_wallets(path: Path) -> tuple[Expected, int]:
    """address -> (smartscore, win rate, markets, realized P&L) of its first row; row count."""
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    wallets: Expected = {}
    for row in rows:
        wallets.setdefault(
            row["Adresse "].lower(),
            (
                Decimal(row["Smartscore"]),
                Decimal(row["Win Rate"]),
                int(row["Markets"]),
                Decimal(row["Realized PnL"]),
            ),
        )
    return wallets, len(rows)


@pytest.fixture(scope="module")
async def seeded_wallets(server_url: str) -> AsyncIterator[tuple[str, SeedReport]]:
    async with scratch_database(server_url, "seedwallets") as url:
        connection = await asyncpg.connect(url)
        try:
            report = await seed_database(connection, users=5, seed=3)
        finally:
            await connection.close()
        yield url, report


@pytest.fixture
async def connection(
    seeded_wallets: tuple[str, SeedReport],
) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(seeded_wallets[0])
    try:
        yield connection
    finally:
        await connection.close()


async def test_every_address_once_with_its_first_rows_exact_numbers(
    connection: asyncpg.Connection, seeded_wallets: tuple[str, SeedReport]
) -> None:
    expected, rows = expected_wallets(DEFAULT_WALLETS)
    assert rows > len(expected) == 1553  # the file repeats some addresses
    stored = {
        row["address"]: (
            row["smartscore"],
            row["win_rate"],
            row["markets_traded"],
            row["realized_pnl"],
        )
        for row in await connection.fetch("SELECT * FROM wallet")
    }
    assert stored == expected
    report = seeded_wallets[1]
    assert report.wallets == 1553
    assert report.skipped_wallets == []


async def test_a_repeated_address_keeps_its_first_row(connection: asyncpg.Connection) -> None:
    with DEFAULT_WALLETS.open(newline="") as file:
        rows = list(csv.DictReader(file))
    by_address: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_address.setdefault(row["Adresse "].lower(), []).append(row)
    differing = [found for found in by_address.values() if len(found) > 1 and found[0] != found[1]]
    assert differing  # the file has such addresses: the rule is tested on real data
    for found in differing:
        stored = await connection.fetchrow(
            "SELECT smartscore, markets_traded FROM wallet WHERE address = $1",
            found[0]["Adresse "].lower(),
        )
        assert stored is not None
        assert (stored["smartscore"], stored["markets_traded"]) == (
            Decimal(found[0]["Smartscore"]),
            int(found[0]["Markets"]),
        )


async def test_no_wallet_trades_and_seeding_again_replaces_them(
    connection: asyncpg.Connection,
) -> None:
    assert await connection.fetchval("SELECT count(*) FROM wallet_trade") == 0
    await connection.execute(
        "INSERT INTO wallet_trade (id, wallet, token_id, side, shares, price, executed_at)"
        " SELECT 't1', address, 'token', 'BUY', 1, 0.5, now() FROM wallet LIMIT 1"
    )
    report = await seed_database(connection, users=5, seed=3)
    assert report.wallets == 1553
    assert await connection.fetchval("SELECT count(*) FROM wallet") == 1553
    assert await connection.fetchval("SELECT count(*) FROM wallet_trade") == 0


def test_rows_the_table_would_refuse_are_skipped_with_their_reason(tmp_path: Path) -> None:
    good = "0x" + "ab" * 20
    path = tmp_path / "wallets.csv"
    path.write_text(
        "User,Adresse ,Smartscore,Win Rate,Markets,Realized PnL\r\n"
        f"u,{good.upper().replace('0X', '0x')},1.5,0.6,10,-2.25\r\n"
        "u,0x123,1,0.5,1,1\r\n"
        f"u,0x{'cd' * 20},1,1.5,1,1\r\n"
        f"u,0x{'ef' * 20},1,0.1234567890123456789,1,1\r\n"
        f"u,0x{'12' * 20},1,0.5,many,1\r\n"
    )
    wallets, skipped = read_wallets(path)
    assert [(w.address, w.smartscore, w.realized_pnl) for w in wallets] == [
        (good, Decimal("1.5"), Decimal("-2.25"))
    ]
    assert [line for line, _ in skipped] == [3, 4, 5, 6]
    assert "0x123" in skipped[0][1]
