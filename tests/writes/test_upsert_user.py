"""upsertUser over HTTP: create, update, omitted keeps, null clears, bad ids and addresses."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from domain.identifiers import BIGINT_MAX
from tests.conftest import GraphQLClient
from tests.writes.conftest import code, refused, run, snapshot

# The contract's UpsertUser selects no address; the bot's settings screen would.
WITH_ADDRESS = """
mutation UpsertUserWithAddress($input: UpsertUserInput!) {
  upsertUser(input: $input) { id telegramId username polygonAddress createdAt }
}
"""
ADDRESS = "0x" + "aB" * 20
OTHER_ADDRESS = "0x" + "0123456789" * 4
USER_ROW = "SELECT * FROM app_user WHERE telegram_id = $1"


async def test_creates_a_user_keyed_by_telegram_id(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    answer = await run(gql, "UpsertUser", input={"telegramId": telegram_id, "username": "ann"})

    row = await db.fetchrow(USER_ROW, int(telegram_id))
    assert row is not None
    assert answer.data["upsertUser"] == {
        "id": str(row["id"]),
        "telegramId": telegram_id,
        "username": "ann",
    }
    assert int(telegram_id) > 2**32
    assert row["polygon_address"] is None
    assert answer.sql == 1


async def test_the_largest_bigint_is_a_valid_telegram_id(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    answer = await run(gql, "UpsertUser", input={"telegramId": str(BIGINT_MAX)})
    assert answer.data["upsertUser"]["telegramId"] == str(BIGINT_MAX)
    assert await db.fetchval("SELECT count(*) FROM app_user WHERE telegram_id = $1", BIGINT_MAX)


async def test_updates_only_the_fields_sent_and_null_clears(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    first = await gql(
        WITH_ADDRESS,
        {"input": {"telegramId": telegram_id, "username": "bob", "polygonAddress": ADDRESS}},
    )
    created = await db.fetchrow(USER_ROW, int(telegram_id))
    assert created is not None
    assert first.data["upsertUser"]["polygonAddress"] == ADDRESS

    # Username omitted: kept. Address sent: replaced.
    second = await gql(
        WITH_ADDRESS, {"input": {"telegramId": telegram_id, "polygonAddress": OTHER_ADDRESS}}
    )
    assert second.errors == []
    assert second.data["upsertUser"]["username"] == "bob"
    assert second.data["upsertUser"]["polygonAddress"] == OTHER_ADDRESS
    assert second.data["upsertUser"]["id"] == first.data["upsertUser"]["id"]

    # Username null: cleared. Address omitted: kept.
    third = await gql(WITH_ADDRESS, {"input": {"telegramId": telegram_id, "username": None}})
    assert third.data["upsertUser"]["username"] is None
    assert third.data["upsertUser"]["polygonAddress"] == OTHER_ADDRESS

    # Address null: cleared.
    fourth = await gql(WITH_ADDRESS, {"input": {"telegramId": telegram_id, "polygonAddress": None}})
    assert fourth.data["upsertUser"]["polygonAddress"] is None

    row = await db.fetchrow(USER_ROW, int(telegram_id))
    assert row is not None
    assert (row["id"], row["username"], row["polygon_address"]) == (created["id"], None, None)
    assert row["created_at"] == created["created_at"]
    assert row["updated_at"] > created["updated_at"]
    assert (
        await db.fetchval("SELECT count(*) FROM app_user WHERE telegram_id = $1", int(telegram_id))
        == 1
    )


@pytest.mark.parametrize("telegram_id", ["0", "-5", "12abc", "1.5", "", str(2**63), "١٢٣"])
async def test_refuses_a_telegram_id_that_is_not_a_positive_bigint(
    gql: GraphQLClient, db: asyncpg.Connection, telegram_id: str
) -> None:
    users_before = await db.fetchval("SELECT count(*) FROM app_user")
    error = await refused(gql, "UpsertUser", input={"telegramId": telegram_id, "username": "x"})
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "telegramId"
    assert error["message"].startswith("telegramId: ")
    assert await db.fetchval("SELECT count(*) FROM app_user") == users_before


@pytest.mark.parametrize(
    "address",
    [
        "0x123",
        "0x" + "g" * 40,
        "ab" * 20 + "00",
        "0X" + "ab" * 20,
        ADDRESS + "\n",
        ADDRESS + "0",
        "",
    ],
)
async def test_refuses_a_polygon_address_that_is_not_0x_and_40_hex_digits(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str], address: str
) -> None:
    existing = new_telegram_id()
    await gql(
        WITH_ADDRESS,
        {"input": {"telegramId": existing, "username": "cat", "polygonAddress": ADDRESS}},
    )
    before = await snapshot(db, USER_ROW, int(existing))

    # Neither an update of an existing user nor the creation of a new one happens.
    error = await refused(
        gql,
        "UpsertUser",
        input={"telegramId": existing, "username": "dog", "polygonAddress": address},
    )
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "polygonAddress"
    assert "0x and 40 hex digits" in error["message"]
    assert await snapshot(db, USER_ROW, int(existing)) == before

    fresh = new_telegram_id()
    error = await refused(gql, "UpsertUser", input={"telegramId": fresh, "polygonAddress": address})
    assert code(error) == "BAD_USER_INPUT"
    assert await snapshot(db, USER_ROW, int(fresh)) == []


async def test_a_missing_telegram_id_is_refused_before_execution(gql: GraphQLClient) -> None:
    error = await refused(gql, "UpsertUser", input={"username": "nobody"})
    assert code(error) == "BAD_USER_INPUT"
