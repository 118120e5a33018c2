"""Applies the SQL migrations in sql/migrations/ to a database, each exactly once.

Rules (after peterldowns/pgmigrate):
- Files are named NNNN_description.sql and applied in that order; forward only, never edited
  once applied: each file's SHA-256 is recorded, and a recorded file whose text has changed
  stops the run with its name (a changed migration means two databases that disagree).
- Each file runs in one transaction together with the row that records it, so a failed
  migration leaves nothing behind and is retried whole next time.
- A file whose name ends in `.notx.sql` (CREATE INDEX CONCURRENTLY, say) runs outside a
  transaction; its row is written after it succeeds, so it must be safe to run twice.
- A session-level advisory lock is held for the whole run: two processes starting together
  apply each file once; the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# An arbitrary constant naming this service's migration lock among all advisory locks.
LOCK_ID = 0x706F6C79636F6F6C  # "polycool"

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migration (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration that cannot be applied safely; the message names the file."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def in_transaction(self) -> bool:
        return not self.name.endswith(".notx.sql")


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    files = sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [Migration(name=path.name, sql=path.read_text()) for path in files]


async def migrate(connection: asyncpg.Connection, folder: Path = MIGRATIONS) -> list[str]:
    """Apply every pending migration; return the names applied by this call."""
    migrations = load_migrations(folder)
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
    try:
        await connection.execute(BOOKKEEPING)
        recorded = {
            row["name"]: row["checksum"]
            for row in await connection.fetch("SELECT name, checksum FROM schema_migration")
        }
        for migration in migrations:
            if migration.name in recorded:
                if recorded[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"Migration {migration.name} was changed after it was applied "
                        "(checksum differs). Add a new migration instead of editing this one."
                    )
                continue
            await _apply(connection, migration)
            applied_now.append(migration.name)
            log.info("applied migration %s", migration.name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    return applied_now


async def pending(
    connection: asyncpg.Connection | PoolConnectionProxy, folder: Path = MIGRATIONS
) -> list[str]:
    """Names of migrations not yet applied (readiness checks use this)."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    done: set[str] = set()
    if exists:
        done = {row["name"] for row in await connection.fetch("SELECT name FROM schema_migration")}
    return [m.name for m in load_migrations(folder) if m.name not in done]


async def _apply(connection: asyncpg.Connection, migration: Migration) -> None:
    record = "INSERT INTO schema_migration (name, checksum) VALUES ($1, $2)"
    try:
        if migration.in_transaction:
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(record, migration.name, migration.checksum)
        else:
            await connection.execute(migration.sql)
            await connection.execute(record, migration.name, migration.checksum)
    except asyncpg.PostgresError as error:
        raise MigrationError(f"Migration {migration.name} failed: {error}") from error
