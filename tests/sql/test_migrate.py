"""The session database is migrated with every migration in sql/migrations, once each."""

import asyncpg

from sql.migrate import load_migrations


async def test_every_migration_is_recorded_once(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        names = [r["name"] for r in await connection.fetch("SELECT name FROM schema_migration")]
    finally:
        await connection.close()
    assert sorted(names) == [m.name for m in load_migrations()]
    assert len(names) >= 3
