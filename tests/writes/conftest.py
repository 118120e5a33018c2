"""What the mutation tests share: the contract's documents, users made through upsertUser,
markets of the tests' own (removed afterwards, so no read test sees them), row snapshots.

Tests change only rows of their own: fresh Telegram ids, inserted markets; a seeded market is
only traded on (the named-outcome case), never repriced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.conftest import Answer, GraphQLClient, contract_documents
from tests.factories import insert_market

DOCUMENTS = contract_documents()


@dataclass(frozen=True)
class User:
    telegram_id: str
    id: int


@dataclass(frozen=True)
class OwnMarket:
    id: str
    outcomes: list[str]
    token_ids: list[str]


async def run(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    """A contract document that must succeed."""
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer


async def refused(gql: GraphQLClient, operation: str, **variables: Any) -> dict[str, Any]:
    """A contract document that must fail with one error and no data; the error."""
    answer = await gql(DOCUMENTS, variables, operation)
    assert len(answer.errors) == 1, answer.errors
    assert answer.data is None, answer.data
    error: dict[str, Any] = answer.errors[0]
    return error


NewUser = Callable[[], Awaitable[User]]
NewMarket = Callable[..., Awaitable[OwnMarket]]


def code(error: dict[str, Any]) -> str | None:
    extensions: dict[str, Any] = error.get("extensions", {})
    return extensions.get("code")


async def snapshot(db: asyncpg.Connection, query: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts, to compare a table's state before and after a refused call."""
    return [dict(row) for row in await db.fetch(query, *args)]


def same(answer: str | None, expected: Decimal | None) -> bool:
    """Decimals compare as numbers ("10" == "10.00"); null only equals null."""
    if answer is None or expected is None:
        return answer is None and expected is None
    return Decimal(answer) == expected


@pytest.fixture
def new_user(
    gql: GraphQLClient, new_telegram_id: Callable[[], str]
) -> Callable[[], Awaitable[User]]:
    """Creates a user through upsertUser, as the bot does."""

    async def create() -> User:
        telegram_id = new_telegram_id()
        answer = await run(gql, "UpsertUser", input={"telegramId": telegram_id})
        return User(telegram_id, int(answer.data["upsertUser"]["id"]))

    return create


@pytest.fixture
async def own_market(
    db: asyncpg.Connection,
) -> AsyncIterator[Callable[..., Awaitable[OwnMarket]]]:
    """Inserts markets of the test's own; removes them and their positions afterwards."""
    made: list[str] = []

    async def create(
        outcomes: tuple[str, ...] = ("Yes", "No"), prices: list[Decimal] | None = None
    ) -> OwnMarket:
        # Inactive, so trendingMarkets never lists it while the test runs.
        market_id = await insert_market(
            db, outcomes=list(outcomes), prices=prices, title="Writes test market", active=False
        )
        made.append(market_id)
        tokens = await db.fetchval("SELECT clob_token_ids FROM market WHERE id = $1", market_id)
        return OwnMarket(market_id, list(outcomes), list(tokens))

    yield create
    await db.execute("DELETE FROM position WHERE market_id = ANY($1::text[])", made)
    await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)
