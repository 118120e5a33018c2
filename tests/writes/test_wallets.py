"""updateWalletStats and recordWalletTrades over HTTP: what is stored, what is refused, and
that a refused call writes nothing.

Every test watches wallets of its own (fresh addresses) and trades on seeded markets' tokens,
so whatever it writes changes no other test's expected answers (the read tests compute theirs
from the rows).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from settings import Settings
from tests.conftest import GraphQLClient, serving, unique_prefix
from tests.wallet_inputs import at, new_address, new_trade_id, real_tokens, stats, trade
from tests.writes.conftest import DOCUMENTS, code, refused, run, snapshot

WALLETS = "SELECT * FROM wallet WHERE address = ANY($1::text[]) ORDER BY address"
TRADES = "SELECT * FROM wallet_trade WHERE id = ANY($1::text[]) ORDER BY id"


async def watch(gql: GraphQLClient, *entries: dict[str, Any]) -> None:
    await run(gql, "UpdateWalletStats", wallets=list(entries))


# updateWalletStats


async def test_new_statistics_are_stored_lowercased_and_replace_the_old(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    first, second = new_address(), new_address()
    answer = await run(
        gql,
        "UpdateWalletStats",
        wallets=[stats(first, smartscore="1.5"), stats(second, realized_pnl="-20.5")],
    )
    assert answer.data["updateWalletStats"]["updated"] == 2
    # Named again in another case, with new numbers: the same wallet, replaced.
    again = await run(
        gql,
        "UpdateWalletStats",
        wallets=[
            stats(
                first.lower(),
                smartscore="9.123456789012345678",
                win_rate="1",
                markets_traded=0,
                realized_pnl="123456789.000000000000000001",
            )
        ],
    )
    assert again.data["updateWalletStats"]["updated"] == 1
    rows = {r["address"]: r for r in await db.fetch(WALLETS, [first.lower(), second.lower()])}
    assert set(rows) == {first.lower(), second.lower()}
    assert rows[first.lower()]["smartscore"] == Decimal("9.123456789012345678")
    assert rows[first.lower()]["win_rate"] == 1
    assert rows[first.lower()]["markets_traded"] == 0
    assert rows[first.lower()]["realized_pnl"] == Decimal("123456789.000000000000000001")
    assert rows[second.lower()]["realized_pnl"] == Decimal("-20.5")
    assert rows[second.lower()]["win_rate"] == Decimal("0.6")


async def test_an_address_named_twice_takes_its_last_entry_and_counts_both(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    address = new_address()
    answer = await run(
        gql,
        "UpdateWalletStats",
        wallets=[stats(address, win_rate="0.7"), stats(address.lower(), win_rate="0.8")],
    )
    assert answer.data["updateWalletStats"]["updated"] == 2
    assert await db.fetchval(
        "SELECT win_rate FROM wallet WHERE address = $1", address.lower()
    ) == Decimal("0.8")


@pytest.mark.parametrize(
    ("field", "entry"),
    [
        ("address", {"address": "0x123"}),
        ("address", {"address": "0x" + "g" * 40}),
        ("winRate", {"winRate": "1.0001"}),
        ("winRate", {"winRate": "-0.1"}),
        ("winRate", {"winRate": "NaN"}),
        ("winRate", {"winRate": "0.1234567890123456789"}),  # 19 decimals: would be rounded
        ("marketsTraded", {"marketsTraded": -1}),
        ("smartscore", {"smartscore": "1e20"}),
        ("realizedPnl", {"realizedPnl": "Infinity"}),
    ],
)
async def test_a_bad_entry_refuses_the_whole_call_and_names_it(
    gql: GraphQLClient, db: asyncpg.Connection, field: str, entry: dict[str, Any]
) -> None:
    good, bad = new_address(), new_address()
    addresses = [good.lower(), bad.lower(), str(entry.get("address", "")).lower()]
    error = await refused(gql, "UpdateWalletStats", wallets=[stats(good), {**stats(bad), **entry}])
    assert code(error) == "BAD_USER_INPUT"
    assert error["message"].startswith(f"wallets[1].{field}: "), error["message"]
    assert await snapshot(db, WALLETS, addresses) == []  # not even the good entry


async def test_no_entries_update_nothing(gql: GraphQLClient) -> None:
    answer = await run(gql, "UpdateWalletStats", wallets=[])
    assert answer.data["updateWalletStats"]["updated"] == 0


# recordWalletTrades


async def test_trades_are_judged_one_by_one(gql: GraphQLClient, db: asyncpg.Connection) -> None:
    wallet, unwatched = new_address(), new_address()
    await watch(gql, stats(wallet))
    token, other_token = await real_tokens(db, 2)
    stored_before = new_trade_id()
    await run(gql, "RecordWalletTrades", trades=[trade(wallet, token, id=stored_before)])
    before = await snapshot(db, TRADES, [stored_before])

    twice = new_trade_id()
    entries = [
        trade(wallet, token, shares="10.5", price="0.25", executed_at=at(5)),  # stored
        trade(wallet.lower(), other_token, side="SELL"),  # stored: any case, either side
        trade(wallet, token, id=stored_before, shares="99"),  # duplicate: unchanged
        trade(wallet, token, id=twice),  # stored...
        trade(wallet, token, id=twice, price="0.9"),  # ...and this one a duplicate
        trade(unwatched, token),  # rejected: not watched
        trade(wallet, "no-such-token"),  # rejected: unknown token
        trade(wallet, token, shares="0"),  # rejected
        trade(wallet, token, shares="-1"),  # rejected
        trade(wallet, token, price="1.01"),  # rejected
        trade(wallet, token, price="-0.01"),  # rejected
        trade(wallet, token, shares="1.0000001"),  # rejected: 7 decimals
    ]
    answer = await run(gql, "RecordWalletTrades", trades=entries)
    result = answer.data["recordWalletTrades"]
    assert result["recorded"] == 3
    assert result["duplicates"] == 2
    rejected = {r["id"]: r["reason"] for r in result["rejected"]}
    assert list(rejected) == [e["id"] for e in entries[5:]]
    for index, field in enumerate(
        ["wallet", "tokenId", "shares", "shares", "price", "price", "shares"], start=5
    ):
        assert rejected[entries[index]["id"]].startswith(f"trades[{index}].{field}: ")

    stored = {r["id"]: r for r in await db.fetch(TRADES, [e["id"] for e in entries])}
    assert set(stored) == {entries[0]["id"], entries[1]["id"], twice, stored_before}
    first = stored[entries[0]["id"]]
    assert first["wallet"] == wallet.lower()
    assert (first["token_id"], first["side"]) == (token, "BUY")
    assert (first["shares"], first["price"]) == (Decimal("10.5"), Decimal("0.25"))
    assert first["value"] == Decimal("10.5") * Decimal("0.25")
    assert first["executed_at"].isoformat() == entries[0]["executedAt"]
    assert stored[entries[1]["id"]]["side"] == "SELL"
    assert stored[twice]["price"] == Decimal("0.5")  # the first of the two
    assert await snapshot(db, TRADES, [stored_before]) == before


async def test_a_resent_batch_is_all_duplicates_and_changes_nothing(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    wallet = new_address()
    await watch(gql, stats(wallet))
    (token,) = await real_tokens(db, 1)
    batch = [trade(wallet, token) for _ in range(3)]
    first = await run(gql, "RecordWalletTrades", trades=batch)
    assert first.data["recordWalletTrades"] == {"recorded": 3, "duplicates": 0, "rejected": []}
    rows = await snapshot(db, TRADES, [t["id"] for t in batch])
    again = await run(gql, "RecordWalletTrades", trades=batch)
    assert again.data["recordWalletTrades"] == {"recorded": 0, "duplicates": 3, "rejected": []}
    assert await snapshot(db, TRADES, [t["id"] for t in batch]) == rows


async def test_the_id_is_looked_at_first(gql: GraphQLClient, db: asyncpg.Connection) -> None:
    """A stored id is a duplicate even when the rest of the entry would be rejected."""
    wallet = new_address()
    await watch(gql, stats(wallet))
    (token,) = await real_tokens(db, 1)
    stored = trade(wallet, token)
    await run(gql, "RecordWalletTrades", trades=[stored])
    resent = {**stored, "wallet": new_address(), "tokenId": "gone", "shares": "-5"}
    answer = await run(gql, "RecordWalletTrades", trades=[resent])
    assert answer.data["recordWalletTrades"] == {"recorded": 0, "duplicates": 1, "rejected": []}


async def test_bad_entries_alone_write_nothing(gql: GraphQLClient, db: asyncpg.Connection) -> None:
    (token,) = await real_tokens(db, 1)
    entry = trade(new_address(), token)
    answer = await run(gql, "RecordWalletTrades", trades=[entry])
    assert answer.data["recordWalletTrades"]["recorded"] == 0
    assert [r["id"] for r in answer.data["recordWalletTrades"]["rejected"]] == [entry["id"]]
    assert await snapshot(db, TRADES, [entry["id"]]) == []


async def test_a_time_without_offset_is_rejected(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    wallet = new_address()
    await watch(gql, stats(wallet))
    (token,) = await real_tokens(db, 1)
    entry = {**trade(wallet, token), "executedAt": "2025-09-25T10:00:00"}
    answer = await run(gql, "RecordWalletTrades", trades=[entry])
    (rejected,) = answer.data["recordWalletTrades"]["rejected"]
    assert rejected["reason"].startswith("trades[0].executedAt: ")
    assert await snapshot(db, TRADES, [entry["id"]]) == []


async def test_a_malformed_input_is_refused_before_anything_runs(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    wallet = new_address()
    await watch(gql, stats(wallet))
    (token,) = await real_tokens(db, 1)
    good = trade(wallet, token)
    error = await refused(
        gql, "RecordWalletTrades", trades=[good, {**trade(wallet, token), "side": "HOLD"}]
    )
    assert code(error) == "BAD_USER_INPUT"
    assert await snapshot(db, TRADES, [good["id"]]) == []


# Roles


async def test_the_ingest_role_runs_both_and_the_bot_neither(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    keys = (("bot", "b" * 32), ("ingest", "i" * 32))
    address = new_address()
    (token,) = await real_tokens(db, 1)
    calls = (
        ("UpdateWalletStats", {"wallets": [stats(address)]}),
        ("RecordWalletTrades", {"trades": [trade(address, token)]}),
    )
    async with serving(settings.replace(cache_prefix=unique_prefix(), api_keys=keys)) as http:
        for role, key in keys:
            for operation, variables in calls:
                response = await http.post(
                    "/graphql",
                    json={"query": DOCUMENTS, "variables": variables, "operationName": operation},
                    headers={"Authorization": f"Bearer {key}"},
                )
                errors = response.json().get("errors") or []
                codes = [e["extensions"]["code"] for e in errors]
                assert codes == ([] if role == "ingest" else ["FORBIDDEN"]), (role, operation)
                if role == "bot":  # nothing ran
                    assert (
                        await db.fetchval(
                            "SELECT count(*) FROM wallet WHERE address = $1", address.lower()
                        )
                        == 0
                    )
    assert (
        await db.fetchval("SELECT count(*) FROM wallet_trade WHERE wallet = $1", address.lower())
        == 1
    )
