import asyncpg


async def test_migrations_create_tables(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        names = {r["name"] for r in await connection.fetch("SELECT name FROM schema_migration")}
    finally:
        await connection.close()
    assert names == {"0001_market.sql", "0002_app_user.sql", "0003_position.sql"}
