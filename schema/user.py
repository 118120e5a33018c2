"""User: a bot user, keyed by Telegram id."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import users
from schema.portfolio import Portfolio
from schema.position import Position
from sql.database import Row


@strawberry.type
class User:
    id: strawberry.ID
    telegram_id: strawberry.ID
    username: str | None
    polygon_address: str | None
    created_at: datetime

    portfolio: Portfolio = strawberry.field(resolver=users.portfolio)
    positions: list[Position] = strawberry.field(
        resolver=users.positions,
        description="Newest first (openedAt, then id). All of them when status is omitted.",
    )


def user_from_row(row: Row) -> User:
    return User(
        id=strawberry.ID(str(row["id"])),
        telegram_id=strawberry.ID(str(row["telegram_id"])),
        username=row["username"],
        polygon_address=row["polygon_address"],
        created_at=row["created_at"],
    )
