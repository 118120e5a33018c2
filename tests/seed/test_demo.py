"""The demo user GraphiQL opens with is what `python app.py seed` makes with its defaults.

seed/demo.py draws the rows again instead of reading them; this seeds a database as `make run`
does and finds each drawn position under the id the drawing gives it, with the demo user's
Telegram id, market, outcome and status.
"""

from __future__ import annotations

import asyncpg

from seed import seed_database
from seed.demo import DEFAULT_SEED, DEFAULT_USERS, demo_user
from sql.databases import scratch_database


async def test_the_demo_user_and_its_positions_are_in_a_database_seeded_by_default(
    server_url: str,
) -> None:
    demo = demo_user()
    async with scratch_database(server_url, "demo") as url:
        connection = await asyncpg.connect(url)
        try:
            await seed_database(connection, users=DEFAULT_USERS, seed=DEFAULT_SEED)
            rows = await connection.fetch(
                """
                SELECT p.id::text AS id, u.telegram_id, p.market_id, p.outcome, p.status
                FROM position p JOIN app_user u ON u.id = p.user_id
                WHERE u.telegram_id = $1
                ORDER BY p.id
                """,
                demo.user.telegram_id,
            )
        finally:
            await connection.close()
    assert demo.active, "the demo user holds no ACTIVE position: GraphiQL would show nothing"
    drawn = sorted(
        (
            (p.id, demo.user.telegram_id, p.market.id, p.row.outcome, p.row.status)
            for p in demo.positions
        ),
        key=lambda row: int(row[0]),
    )
    assert [tuple(row) for row in rows] == drawn
