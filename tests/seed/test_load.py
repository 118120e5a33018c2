"""Seeding a database of its own: TRUNCATE would otherwise empty the session's shared one."""

import random
from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg
import pytest

from seed import SeedReport, seed_database
from seed.generate import SeedPosition, SeedUser, generate_positions
from seed.snapshot import SnapshotMarket
from sql.databases import scratch_database

TABLES = ("market", "app_user", "position")
USERS = 200
SEED = 7

Dump = dict[str, list[tuple[object, ...]]]


@pytest.fixture(scope="module")
async def seed_url(server_url: str) -> AsyncIterator[str]:
    """A database of this module's own, so seeding never disturbs the other tests."""
    async with scratch_database(server_url, "seed") as url:
        yield url


@pytest.fixture
async def connection(seed_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(seed_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def report(connection: asyncpg.Connection) -> SeedReport:
    return await seed_database(connection, users=USERS, seed=SEED)


async def dump(connection: asyncpg.Connection) -> Dump:
    return {
        table: [tuple(row) for row in await connection.fetch(f"SELECT * FROM {table} ORDER BY id")]
        for table in TABLES
    }


async def test_same_arguments_give_the_same_database(
    connection: asyncpg.Connection, report: SeedReport
) -> None:
    first = await dump(connection)
    again = await seed_database(connection, users=USERS, seed=SEED)
    assert again == report
    assert await dump(connection) == first


async def test_another_seed_gives_other_users_and_positions(
    connection: asyncpg.Connection, report: SeedReport
) -> None:
    first = await dump(connection)
    await seed_database(connection, users=USERS, seed=SEED + 1)
    other = await dump(connection)
    assert other["market"] == first["market"]
    assert other["app_user"] != first["app_user"]
    assert other["position"] != first["position"]


async def test_report_counts_the_rows(connection: asyncpg.Connection, report: SeedReport) -> None:
    assert report.markets == 2999
    assert [market_id for market_id, _ in report.skipped] == ["502517"]
    assert report.users == USERS
    counts = {
        row["status"]: row["count"]
        for row in await connection.fetch("SELECT status, count(*) FROM position GROUP BY status")
    }
    assert counts == {"ACTIVE": report.positions.active, "CLOSED": report.positions.closed}
    assert await connection.fetchval("SELECT count(*) FROM market") == report.markets
    assert await connection.fetchval("SELECT count(*) FROM app_user") == report.users
    # The ids restart at 1 with every seed, so they mean the same thing from run to run.
    assert await connection.fetchval("SELECT min(id) FROM app_user") == 1
    assert await connection.fetchval("SELECT min(id) FROM position") == 1


async def test_most_users_hold_a_few_positions_and_some_hold_hundreds(
    connection: asyncpg.Connection, report: SeedReport
) -> None:
    held = [
        row["count"]
        for row in await connection.fetch(
            "SELECT count(position.id) FROM app_user"
            " LEFT JOIN position ON position.user_id = app_user.id GROUP BY app_user.id"
        )
    ]
    assert len(held) == USERS
    assert sum(1 <= count <= 20 for count in held) >= 0.95 * USERS
    assert any(count >= 200 for count in held)
    assert min(held) >= 1


async def test_rows_hold_what_the_bot_relies_on(
    connection: asyncpg.Connection, report: SeedReport
) -> None:
    # Every CHECK already held, or the COPY would have failed; these are the rules no CHECK states.
    duplicates = await connection.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM position WHERE status = 'ACTIVE'"
        " GROUP BY user_id, market_id, outcome HAVING count(*) > 1) AS twice"
    )
    assert duplicates == 0
    stray = await connection.fetchval(
        "SELECT count(*) FROM position JOIN market ON market.id = position.market_id"
        " WHERE array_position(market.outcomes, position.outcome) IS NULL"
        " OR market.outcome_prices IS NULL"
    )
    assert stray == 0
    closed = await connection.fetchrow(
        "SELECT count(*) FILTER (WHERE realized_pnl = 0 OR closed_at <= opened_at) AS wrong,"
        " count(*) AS total FROM position WHERE status = 'CLOSED'"
    )
    assert closed is not None
    assert closed["total"] > 0
    assert closed["wrong"] == 0
    targets = await connection.fetchval(
        "SELECT count(*) FROM position WHERE take_profit_price IS NOT NULL"
        " AND stop_loss_price IS NOT NULL"
    )
    assert targets > 0
    assert await connection.fetchval("SELECT max(telegram_id) FROM app_user") > 2**32
    assert await connection.fetchval("SELECT count(polygon_address) FROM app_user") > 0
    assert await connection.fetchval("SELECT count(*) FROM market WHERE active") == 2160


async def foreign_keys(connection: asyncpg.Connection) -> set[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'position'::regclass AND contype = 'f'"
    )
    return {(row[0], row[1]) for row in rows}


async def test_foreign_keys_come_back_as_migrated(
    connection: asyncpg.Connection, report: SeedReport, database_url: str
) -> None:
    migrated = await asyncpg.connect(database_url)
    try:
        expected = await foreign_keys(migrated)
    finally:
        await migrated.close()
    assert len(expected) == 2
    assert await foreign_keys(connection) == expected
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await connection.execute(
            "INSERT INTO position (user_id, market_id, outcome, shares, entry_price)"
            " VALUES (1, 'no such market', 'Yes', 1, 0.5)"
        )


async def test_a_row_the_keys_refuse_rolls_everything_back(
    connection: asyncpg.Connection, report: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await dump(connection)
    keys = await foreign_keys(connection)

    def with_a_stray_position(
        users: Sequence[SeedUser], markets: Sequence[SnapshotMarket], rng: random.Random
    ) -> Iterator[SeedPosition]:
        positions = list(generate_positions(users, markets, rng))
        yield from positions
        yield positions[0]._replace(market_id="no such market")

    monkeypatch.setattr("seed.load.generate_positions", with_a_stray_position)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await seed_database(connection, users=USERS, seed=SEED + 1)
    assert await dump(connection) == before
    assert await foreign_keys(connection) == keys
