"""Entries decoded once per process (cache/decoded.py): reused only for the very bytes they
were decoded from, never changed by what reads them, and bounded.

Counted through the service's own metric (polycool_cache_decoded_total), with whole answers
off so that every repeat reads through the loaders.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from app import create_app
from cache.codec import decode
from cache.decoded import DecodedEntries
from loaders.markets import MarketLoader
from schema.market import Market
from settings import Settings
from tests.conftest import Answer, GraphQLClient, contract_documents, unique_prefix
from tests.factories import insert_holder, insert_market

DOCUMENTS = contract_documents()


def decoded_total(kind: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "polycool_cache_decoded_total", {"kind": kind, "result": result}
    )
    return value or 0.0


@asynccontextmanager
async def loaders_app(settings: Settings) -> AsyncIterator[tuple[GraphQLClient, DecodedEntries]]:
    """A client of an app without whole answers, on an empty cache, and its decoded entries."""
    app = create_app(settings.replace(cache_prefix=unique_prefix(), answer_cache=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield GraphQLClient(http), app.state.cache.decoded


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer


def prices(answer: Answer) -> list[Decimal]:
    return [Decimal(p) for p in answer.data["markets"][0]["outcomePrices"]]


async def read_repriced_market(settings: Settings, db: asyncpg.Connection) -> Answer:
    """A market read three times (filled, decoded, its decoded value reused), repriced through
    updateMarketPrices (which refills it), then read again."""
    market_id = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.4"), Decimal("0.6")], active=False
    )
    try:
        async with loaders_app(settings) as (gql, _):
            await ok(gql, "MarketsBatch", ids=[market_id])
            await ok(gql, "MarketsBatch", ids=[market_id])
            reused = decoded_total("market", "reused")
            before = await ok(gql, "MarketsBatch", ids=[market_id])
            assert (before.sql, prices(before)) == (0, [Decimal("0.4"), Decimal("0.6")])
            assert decoded_total("market", "reused") == reused + 1
            updates = [{"marketId": market_id, "outcomePrices": ["0.55", "0.45"]}]
            await ok(gql, "UpdateMarketPrices", updates=updates)
            after = await ok(gql, "MarketsBatch", ids=[market_id])
            assert after.sql == 0  # the writer refilled it: new bytes, read from Redis
            return after
    finally:
        await db.execute("DELETE FROM market WHERE id = $1", market_id)


async def test_new_bytes_after_a_write_are_decoded_anew(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    after = await read_repriced_market(settings, db)
    assert prices(after) == [Decimal("0.55"), Decimal("0.45")]


async def test_control_a_value_kept_by_key_alone_serves_the_old_prices(
    settings: Settings, seeded: str, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = DecodedEntries.decode

    def by_key_alone(self: DecodedEntries, name: str, raw: bytes, payload: bytes) -> Any:
        kept = {kept_name: value for kept_name, _, value in self.items()}
        if name in kept:
            self.reused += 1
            return kept[name]
        return real(self, name, raw, payload)

    monkeypatch.setattr(DecodedEntries, "decode", by_key_alone)
    after = await read_repriced_market(settings, db)
    assert prices(after) == [Decimal("0.4"), Decimal("0.6")]


async def kept_after_reads_and_writes(
    settings: Settings, db: asyncpg.Connection, telegram_id: str
) -> list[tuple[str, bytes, Any]]:
    """The contract's reads three times (filled, decoded, reused), with writes between them;
    then every entry kept decoded, with its bytes and its value."""
    holder = await insert_holder(db, telegram_id, 6)  # on the first markets by id
    market = await db.fetchrow(
        "SELECT id, condition_id, clob_token_ids, outcomes FROM market "
        "WHERE id NOT LIKE 'test-%' AND outcome_prices IS NOT NULL ORDER BY id DESC LIMIT 1"
    )
    assert market is not None
    read_id, levelled_id = (
        str(row["id"])
        for row in await db.fetch(
            "SELECT id FROM position WHERE user_id = $1 ORDER BY id LIMIT 2", holder.id
        )
    )
    trade = {
        "telegramId": holder.telegram_id,
        "marketId": market["id"],
        "outcome": market["outcomes"][0],
        "side": "BUY",
        "shares": "1",
        "price": "0.5",
    }
    async with loaders_app(settings) as (gql, decoded):
        for _ in range(3):
            await ok(gql, "Portfolio", telegramId=holder.telegram_id)
            await ok(gql, "PositionHistory", telegramId=holder.telegram_id)
            await ok(gql, "PositionDetail", id=read_id)
            await ok(gql, "MarketsBatch", ids=[market["id"], market["id"]])
            await ok(gql, "MarketByToken", tokenId=market["clob_token_ids"][0])
            await ok(gql, "MarketByCondition", conditionId=market["condition_id"])
            await ok(gql, "TrendingMarkets", first=20)
            await ok(gql, "SearchMarkets", text="bitcoin", first=10)
            await ok(
                gql, "SetTpSl", positionId=levelled_id, takeProfitPrice="0.9", stopLossPrice="0.1"
            )
            await ok(gql, "RecordTrade", input=trade)
        return decoded.items()


def changed(kept: list[tuple[str, bytes, Any]]) -> list[str]:
    """The kept entries whose value no longer equals their bytes decoded anew."""
    return [name for name, raw, value in kept if value != decode(raw.split(b"|", 2)[2])]


async def test_reads_and_writes_leave_every_kept_value_as_its_bytes_decode(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    kept = await kept_after_reads_and_writes(settings, db, new_telegram_id())
    # An entry is named <prefix>:{tag}:<kind>.<digest of its statement>:<key>.
    kinds = {name.split("}:")[1].split(":")[0].split(".")[0] for name, _, _ in kept}
    assert kinds == {
        "market",
        "user",
        "user_positions",
        "position",
        "market_by_token",
        "market_by_condition",
        "trending",
        "search",
    }
    assert changed(kept) == []


async def test_control_a_loader_changing_its_row_is_caught(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = MarketLoader.value

    def appending(self: MarketLoader, found: Any) -> Market | None:
        if found is not None:
            found["outcomes"].append("Maybe")  # what nothing may do to a shared value
        return real(self, found)

    monkeypatch.setattr(MarketLoader, "value", appending)
    kept = await kept_after_reads_and_writes(settings, db, new_telegram_id())
    assert changed(kept) != []


def test_the_bytes_kept_stay_within_the_bound_least_recently_used_out() -> None:
    entries = DecodedEntries(max_bytes=100)
    raw = {name: b"t|e|" + b'[{}, {"n": "' + name.encode() * 20 + b'"}]' for name in "abcd"}
    for name in "abc":
        entries.decode(name, raw[name], raw[name][4:])
    assert [name for name, _, _ in entries.items()] == ["b", "c"]  # 38 bytes each
    entries.decode("b", raw["b"], raw["b"][4:])  # reused, so now the most recently used
    entries.decode("d", raw["d"], raw["d"][4:])
    assert [name for name, _, _ in entries.items()] == ["b", "d"]
    assert entries.size == sum(len(raw[name]) for name in "bd") <= 100
    assert entries.reused == 1
    assert DecodedEntries(max_bytes=0).decode("a", raw["a"], raw["a"][4:]) == {"n": "a" * 20}
