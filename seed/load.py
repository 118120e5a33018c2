"""Fills the database: the snapshot's markets, generated users and positions, watched wallets.

One transaction on the caller's connection: TRUNCATE ... RESTART IDENTITY, then one COPY per
table. Identities restart and rows are copied in a fixed order, and every timestamp comes from
the snapshot or the generator (never now()), so the same arguments give the same database, ids
included. app_user.id is GENERATED ALWAYS: users are copied without it and read back
(telegram_id -> id) to fill position.user_id.

The non-obvious decision: position's foreign keys are dropped for its COPY and added back in
the same transaction, which checks them in one join instead of one locking lookup per row
(PostgreSQL's own bulk-loading advice): less than half the time, for 100k positions.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import asyncpg

from seed.generate import SeedPosition, generate_positions, generate_users
from seed.snapshot import read_snapshot
from seed.wallets import read_wallets
from settings import ROOT

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOT = ROOT / "data" / "polymarket-markets-2025-09-25.json"
DEFAULT_WALLETS = ROOT / "data" / "polymarket-smart-wallets.csv"

# CASCADE: a later table that references these (a watchlist, say) is emptied with them.
TRUNCATE = "TRUNCATE position, app_user, market, wallet RESTART IDENTITY CASCADE"
USER_IDS = "SELECT telegram_id, id FROM app_user"
FOREIGN_KEYS = """
SELECT conname AS name, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE conrelid = $1::regclass AND contype = 'f'
ORDER BY conname
"""

# title_search is GENERATED and the ids are GENERATED ALWAYS: COPY leaves them out.
MARKET_COLUMNS = (
    "id",
    "title",
    "slug",
    "condition_id",
    "outcomes",
    "outcome_prices",
    "clob_token_ids",
    "volume",
    "liquidity",
    "end_date",
    "active",
    "resolved",
    "prices_updated_at",
    "updated_at",
)
USER_COLUMNS = ("telegram_id", "username", "polygon_address", "created_at", "updated_at")
WALLET_COLUMNS = ("address", "smartscore", "win_rate", "markets_traded", "realized_pnl")
POSITION_COLUMNS = (
    "user_id",
    "market_id",
    "outcome",
    "status",
    "shares",
    "entry_price",
    "realized_pnl",
    "take_profit_price",
    "stop_loss_price",
    "opened_at",
    "closed_at",
    "updated_at",
)


class PositionCounts(NamedTuple):
    active: int
    closed: int


@dataclass(frozen=True)
class SeedReport:
    markets: int
    # (market id, reason) for each snapshot row left out.
    skipped: list[tuple[str, str]]
    users: int
    positions: PositionCounts
    # Watched wallets loaded (no wallet trades are), and (CSV line, reason) for rows left out.
    wallets: int = 0
    skipped_wallets: list[tuple[int, str]] = field(default_factory=list)


async def seed_database(
    connection: asyncpg.Connection,
    *,
    users: int,
    seed: int,
    snapshot: Path = DEFAULT_SNAPSHOT,
    wallets: Path = DEFAULT_WALLETS,
) -> SeedReport:
    """Replace every market, user and position with the snapshot and `users` generated users,
    and the watched wallets with the CSV's (their trades with none)."""
    parsed = read_snapshot(snapshot)
    seed_wallets, skipped_wallets = read_wallets(wallets)
    rng = random.Random(seed)
    seed_users = generate_users(users, rng)
    # Drawn lazily, during their COPY: PostgreSQL stores and indexes the first rows while Python
    # draws the next ones, on another core.
    seed_positions = generate_positions(seed_users, parsed.markets, rng)
    statuses: Counter[str] = Counter()

    async with connection.transaction():
        await connection.execute(TRUNCATE)
        await connection.copy_records_to_table(
            "market",
            columns=MARKET_COLUMNS,
            records=[
                (
                    market.id,
                    market.title,
                    market.slug,
                    market.condition_id,
                    market.outcomes,
                    market.outcome_prices,
                    market.clob_token_ids,
                    market.volume,
                    market.liquidity,
                    market.end_date,
                    market.active,
                    market.resolved,
                    parsed.taken_at if market.outcome_prices is not None else None,
                    parsed.taken_at,
                )
                for market in parsed.markets
            ],
        )
        await connection.copy_records_to_table(
            "app_user",
            columns=USER_COLUMNS,
            records=[
                (u.telegram_id, u.username, u.polygon_address, u.created_at, u.created_at)
                for u in seed_users
            ],
        )
        await connection.copy_records_to_table(
            "wallet",
            columns=WALLET_COLUMNS,
            records=[
                (w.address, w.smartscore, w.win_rate, w.markets_traded, w.realized_pnl)
                for w in seed_wallets
            ],
        )
        user_ids = {row["telegram_id"]: row["id"] for row in await connection.fetch(USER_IDS)}
        async with _foreign_keys_dropped(connection, "position"):
            await connection.copy_records_to_table(
                "position",
                columns=POSITION_COLUMNS,
                records=(
                    (
                        user_ids[p.telegram_id],
                        p.market_id,
                        p.outcome,
                        p.status,
                        p.shares,
                        p.entry_price,
                        p.realized_pnl,
                        p.take_profit_price,
                        p.stop_loss_price,
                        p.opened_at,
                        p.closed_at,
                        p.updated_at,
                    )
                    for p in _counted(seed_positions, statuses)
                ),
            )

    report = SeedReport(
        markets=len(parsed.markets),
        skipped=parsed.skipped,
        users=len(seed_users),
        positions=PositionCounts(active=statuses["ACTIVE"], closed=statuses["CLOSED"]),
        wallets=len(seed_wallets),
        skipped_wallets=skipped_wallets,
    )
    log.info(
        "Seeded %d markets (%d skipped), %d users, %d active and %d closed positions, "
        "%d watched wallets",
        report.markets,
        len(report.skipped),
        report.users,
        report.positions.active,
        report.positions.closed,
        report.wallets,
    )
    return report


def _counted(positions: Iterable[SeedPosition], statuses: Counter[str]) -> Iterator[SeedPosition]:
    """The positions unchanged, tallying their statuses as they stream past."""
    for position in positions:
        statuses[position.status] += 1
        yield position


@asynccontextmanager
async def _foreign_keys_dropped(connection: asyncpg.Connection, table: str) -> AsyncIterator[None]:
    """Inside a transaction: drop `table`'s foreign keys, then add them back exactly as they were.

    The definitions are read from the catalog, so a migration that changes a key is followed.
    An error inside leaves the keys dropped; the caller's transaction rolls that back. TRUNCATE
    has already taken the locks that ALTER TABLE needs.
    """
    keys = await connection.fetch(FOREIGN_KEYS, table)
    for key in keys:
        await connection.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_quoted(key['name'])}")
    yield
    for key in keys:
        await connection.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_quoted(key['name'])} {key['definition']}"
        )


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
