"""The bot's contract, end to end: each query document over HTTP against a seeded database.

Expected answers are computed here from the rows (Decimal arithmetic written out again), never
copied from the service. Mutations have their own tests in tests/writes/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
from graphql import parse, validate

from schema.schema import build_schema
from tests.conftest import GraphQLClient, contract_documents
from tests.factories import insert_market, insert_position, insert_user

DOCUMENTS = contract_documents()


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def same(answer: str | None, expected: Decimal | None) -> bool:
    """Decimals compare as numbers ("10" == "10.00"); null only equals null."""
    return (answer is None and expected is None) or (
        answer is not None and expected is not None and Decimal(answer) == expected
    )


async def run(gql: GraphQLClient, operation: str, **variables: Any) -> Any:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer.data


def test_every_contract_document_validates_against_the_schema() -> None:
    document = parse(DOCUMENTS)
    assert len(document.definitions) == 22
    assert validate(build_schema()._schema, document) == []


async def expected_positions(
    db: asyncpg.Connection, user_id: int, status: str
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT p.*, p.status::text AS status_text, m.outcomes, m.outcome_prices
        FROM position p JOIN market m ON m.id = p.market_id
        WHERE p.user_id = $1 AND p.status = $2::position_status
        ORDER BY p.opened_at DESC, p.id DESC
        """,
        user_id,
        status,
    )
    expected = []
    for row in rows:
        price = None
        if row["outcome_prices"] is not None:
            names = [name.lower() for name in row["outcomes"]]
            if row["outcome"].lower() in names:
                price = row["outcome_prices"][names.index(row["outcome"].lower())]
        entry, shares = row["entry_price"], row["shares"]
        expected.append(
            {
                "id": str(row["id"]),
                "outcome": row["outcome"],
                "shares": shares,
                "entry": entry,
                "price": price,
                "value": None if price is None else shares * price,
                "pnl": None if price is None else (price - entry) * shares,
                "pnl_percent": None
                if price is None or entry == 0
                else (price - entry) / entry * 100,
                "market_id": row["market_id"],
            }
        )
    return expected


async def test_portfolio_of_a_seeded_user_matches_the_rows(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    user = await db.fetchrow(
        """
        SELECT u.id, u.telegram_id, u.username FROM app_user u
        JOIN position p ON p.user_id = u.id AND p.status = 'ACTIVE'
        GROUP BY u.id HAVING count(*) BETWEEN 5 AND 20 ORDER BY u.id LIMIT 1
        """
    )
    assert user is not None
    data = await run(gql, "Portfolio", telegramId=str(user["telegram_id"]))
    answer = data["user"]
    assert answer["telegramId"] == str(user["telegram_id"])
    assert answer["username"] == user["username"]
    expected = await expected_positions(db, user["id"], "ACTIVE")
    assert [p["id"] for p in answer["positions"]] == [e["id"] for e in expected]
    for got, want in zip(answer["positions"], expected, strict=True):
        assert got["outcome"] == want["outcome"]
        assert same(got["shares"], want["shares"])
        assert same(got["entryPrice"], want["entry"])
        assert same(got["currentPrice"], want["price"])
        assert same(got["value"], want["value"])
        assert same(got["pnl"], want["pnl"])
        assert same(got["pnlPercent"], want["pnl_percent"])
        assert got["market"]["id"] == want["market_id"]
    priced = [e for e in expected if e["price"] is not None]
    invested = sum((e["entry"] * e["shares"] for e in priced), Decimal(0))
    value = sum((e["value"] for e in priced), Decimal(0))
    portfolio = answer["portfolio"]
    assert portfolio["positionCount"] == len(expected)
    assert same(portfolio["invested"], invested)
    assert same(portfolio["value"], value)
    assert same(portfolio["pnl"], value - invested)
    assert abs(Decimal(portfolio["pnlPercent"]) - (value - invested) / invested * 100) < Decimal(
        "1e-12"
    )


async def test_named_outcomes_in_any_case_take_their_own_price(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    market = await db.fetchrow(
        "SELECT id, outcomes, outcome_prices FROM market "
        "WHERE outcomes = ARRAY['Celtics', 'Knicks'] AND outcome_prices IS NOT NULL LIMIT 1"
    )
    assert market is not None
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    # Stored in another case than the market's (as older rows may be): still priced.
    await insert_position(
        db,
        user_id=user_id,
        market_id=market["id"],
        outcome="knicks",
        shares=Decimal(4),
        entry_price=Decimal("0.25"),
        opened_minutes_ago=1,
    )
    await insert_position(
        db,
        user_id=user_id,
        market_id=market["id"],
        outcome="Celtics",
        shares=Decimal(2),
        entry_price=Decimal("0.5"),
    )
    positions = (await run(gql, "Portfolio", telegramId=telegram_id))["user"]["positions"]
    assert [p["outcome"] for p in positions] == ["Celtics", "knicks"]
    celtics, knicks = market["outcome_prices"]
    assert same(positions[0]["currentPrice"], celtics)
    assert same(positions[1]["currentPrice"], knicks)
    assert same(positions[1]["value"], 4 * knicks)
    assert positions[0]["market"]["outcomes"] == ["Celtics", "Knicks"]


async def test_a_market_without_prices_gives_nulls_not_errors(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    unpriced = await insert_market(db, outcomes=["Yes", "No"], prices=None)
    priced = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.4"), Decimal("0.6")]
    )
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    await insert_position(
        db,
        user_id=user_id,
        market_id=unpriced,
        outcome="Yes",
        shares=Decimal(10),
        entry_price=Decimal("0.3"),
        opened_minutes_ago=1,
    )
    await insert_position(
        db,
        user_id=user_id,
        market_id=priced,
        outcome="No",
        shares=Decimal(5),
        entry_price=Decimal("0.5"),
    )
    user = (await run(gql, "Portfolio", telegramId=telegram_id))["user"]
    no_price = user["positions"][1]
    assert no_price["market"]["outcomePrices"] is None
    assert [no_price[f] for f in ("currentPrice", "value", "pnl", "pnlPercent")] == [None] * 4
    # Counted, but left out of the money totals.
    assert user["portfolio"]["positionCount"] == 2
    assert same(user["portfolio"]["invested"], Decimal("2.5"))
    assert same(user["portfolio"]["value"], Decimal("3.0"))
    assert same(user["portfolio"]["pnl"], Decimal("0.5"))
    assert same(user["portfolio"]["pnlPercent"], Decimal(20))


async def test_entry_price_zero_has_no_pnl_percent(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    market = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.7"), Decimal("0.3")]
    )
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    await insert_position(
        db,
        user_id=user_id,
        market_id=market,
        outcome="Yes",
        shares=Decimal(3),
        entry_price=Decimal(0),
    )
    user = (await run(gql, "Portfolio", telegramId=telegram_id))["user"]
    position = user["positions"][0]
    assert same(position["pnl"], Decimal("2.1"))
    assert position["pnlPercent"] is None
    assert same(user["portfolio"]["invested"], Decimal(0))
    assert user["portfolio"]["pnlPercent"] is None


async def test_unknown_and_malformed_ids_are_null(gql: GraphQLClient) -> None:
    for telegram_id in ("1", "not-a-number", "-5", str(2**63), "99999999999999"):
        assert (await run(gql, "Portfolio", telegramId=telegram_id))["user"] is None
    for position_id in ("0", "abc", str(2**64), "999999999"):
        assert (await run(gql, "PositionDetail", id=position_id))["position"] is None
    assert (await run(gql, "MarketByToken", tokenId="123"))["marketByToken"] is None
    assert (await run(gql, "MarketByCondition", conditionId="0x00"))["marketByCondition"] is None


async def test_position_history_lists_closed_positions(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    user = await db.fetchrow(
        "SELECT u.id, u.telegram_id FROM app_user u JOIN position p ON p.user_id = u.id "
        "WHERE p.status = 'CLOSED' GROUP BY u.id ORDER BY count(*) DESC LIMIT 1"
    )
    assert user is not None
    rows = await db.fetch(
        "SELECT id, realized_pnl, closed_at FROM position "
        "WHERE user_id = $1 AND status = 'CLOSED' ORDER BY opened_at DESC, id DESC",
        user["id"],
    )
    positions = (await run(gql, "PositionHistory", telegramId=str(user["telegram_id"])))["user"][
        "positions"
    ]
    assert [p["id"] for p in positions] == [str(r["id"]) for r in rows]
    assert all(p["status"] == "CLOSED" and p["closedAt"] for p in positions)
    for got, row in zip(positions, rows, strict=True):
        assert same(got["realizedPnl"], row["realized_pnl"])


async def test_position_detail_matches_its_row(gql: GraphQLClient, db: asyncpg.Connection) -> None:
    row = await db.fetchrow(
        "SELECT p.*, m.title, m.condition_id, m.clob_token_ids, m.volume FROM position p "
        "JOIN market m ON m.id = p.market_id WHERE p.take_profit_price IS NOT NULL LIMIT 1"
    )
    assert row is not None
    position = (await run(gql, "PositionDetail", id=str(row["id"])))["position"]
    assert position["status"] == "ACTIVE"
    assert same(position["takeProfitPrice"], row["take_profit_price"])
    assert same(position["stopLossPrice"], row["stop_loss_price"])
    assert same(position["realizedPnl"], row["realized_pnl"])
    assert position["closedAt"] is None
    market = position["market"]
    assert (market["title"], market["conditionId"]) == (row["title"], row["condition_id"])
    assert market["clobTokenIds"] == list(row["clob_token_ids"])
    assert same(market["volume"], row["volume"])


async def test_markets_batch_keeps_order_duplicates_and_unknowns(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = await db.fetch(
        "SELECT id, title FROM market WHERE id NOT LIKE 'test-%' ORDER BY id LIMIT 3"
    )
    ids = [rows[2]["id"], "no-such-market", rows[0]["id"], rows[2]["id"], rows[1]["id"]]
    markets = (await run(gql, "MarketsBatch", ids=ids))["markets"]
    assert [m and m["id"] for m in markets] == [ids[0], None, ids[2], ids[3], ids[4]]
    assert markets[2]["title"] == rows[0]["title"]


async def test_market_by_token_and_by_condition(gql: GraphQLClient, db: asyncpg.Connection) -> None:
    row = await db.fetchrow(
        "SELECT id, condition_id, clob_token_ids FROM market WHERE id NOT LIKE 'test-%' LIMIT 1"
    )
    assert row is not None
    for token in row["clob_token_ids"]:
        market = (await run(gql, "MarketByToken", tokenId=token))["marketByToken"]
        assert market["id"] == row["id"]
        assert token in market["clobTokenIds"]
    found = await run(gql, "MarketByCondition", conditionId=row["condition_id"])
    assert found["marketByCondition"]["id"] == row["id"]


async def test_trending_pages_walk_every_open_market_once_in_order(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = await db.fetch("SELECT id, volume FROM market WHERE active AND NOT resolved")
    expected = [r["id"] for r in sorted(rows, key=lambda r: (-r["volume"], r["id"]))]
    seen: list[str] = []
    after = None
    while True:
        page = (await run(gql, "TrendingMarkets", first=97, after=after))["trendingMarkets"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
    assert len(seen) > 2000  # the snapshot's 2,160 tradeable markets, plus any test markets


async def test_trending_refuses_bad_first_and_foreign_cursors(gql: GraphQLClient) -> None:
    page = (await run(gql, "TrendingMarkets", first=2))["trendingMarkets"]
    cursor = page["pageInfo"]["endCursor"]
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for variables in (
        {"first": 0},
        {"first": 101},
        {"first": 5, "after": forged},
        {"first": 5, "after": "not a cursor"},
    ):
        answer = await gql(DOCUMENTS, variables, "TrendingMarkets")
        assert answer.data is None
        assert answer.codes == ["BAD_USER_INPUT"]
        assert answer.errors[0]["extensions"]["field"] in ("first", "after")


async def test_search_finds_whole_words_any_case_best_matches_first(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    markets = (await run(gql, "SearchMarkets", text="kNiCkS celtics", first=50))["searchMarkets"]
    assert markets
    rows = {r["id"]: r for r in await db.fetch("SELECT id, title, volume FROM market")}

    def words_held(title: str) -> int:
        return sum(bool(re.search(rf"\b{w}\b", title, re.I)) for w in ("knicks", "celtics"))

    held = [words_held(m["title"]) for m in markets]
    assert all(h >= 1 for h in held)
    keys = [(-words_held(m["title"]), -rows[m["id"]]["volume"]) for m in markets]
    assert keys == sorted(keys)
    both = [r for r in rows.values() if words_held(r["title"]) == 2]
    assert held[: len(both)] == [2] * len(both)
    assert {m["id"] for m in markets} >= {r["id"] for r in both}
    # Whole words: "Fed" finds "Fed rate" titles, never a word that merely starts with it.
    fed = (await run(gql, "SearchMarkets", text="fed", first=50))["searchMarkets"]
    assert fed
    assert all(re.search(r"\bfed\b", m["title"], re.I) for m in fed)


async def test_search_limits(gql: GraphQLClient) -> None:
    assert (await run(gql, "SearchMarkets", text="bitcoin", first=3))[
        "searchMarkets"
    ].__len__() == 3
    assert (await run(gql, "SearchMarkets", text="   ", first=3))["searchMarkets"] == []
    for first in (0, 51):
        answer = await gql(DOCUMENTS, {"text": "bitcoin", "first": first}, "SearchMarkets")
        assert answer.codes == ["BAD_USER_INPUT"]


async def test_errors_before_execution_carry_the_contracts_codes(gql: GraphQLClient) -> None:
    parse_failed = await gql("{ user(telegramId: ")
    assert parse_failed.codes == ["GRAPHQL_PARSE_FAILED"]
    invalid = await gql('{ user(telegramId: "1") { noSuchField } }')
    assert invalid.codes == ["GRAPHQL_VALIDATION_FAILED"]
    missing_variable = await gql(DOCUMENTS, {}, "Portfolio")
    assert missing_variable.codes == ["BAD_USER_INPUT"]
    bad_decimal = await gql(DOCUMENTS, {"positionId": "1", "takeProfitPrice": "abc"}, "SetTpSl")
    assert bad_decimal.codes == ["BAD_USER_INPUT"]


async def test_a_mutation_payload_asking_for_the_market_gets_it_and_its_prices(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    market = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.3"), Decimal("0.7")]
    )
    telegram_id = new_telegram_id()
    await insert_user(db, telegram_id)
    trade = """
    mutation ($input: RecordTradeInput!) {
      recordTrade(input: $input) {
        position { id market { id outcomePrices } currentPrice value pnl pnlPercent }
      }
    }"""
    answer = await gql(
        trade,
        {"input": {"telegramId": telegram_id, "marketId": market, "outcome": "No",
                   "side": "BUY", "shares": "10", "price": "0.5"}},
    )  # fmt: skip
    assert answer.errors == []
    position = answer.data["recordTrade"]["position"]
    assert position["market"]["id"] == market
    assert same(position["currentPrice"], Decimal("0.7"))
    assert same(position["value"], Decimal(7))
    assert same(position["pnl"], Decimal(2))
    assert same(position["pnlPercent"], Decimal(40))
