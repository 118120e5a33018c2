"""Whole answers (cache/answers.py): served byte for byte while what they read is unchanged.

What the invalidation, interleaving, outage and stress tests check for every read (a write is
seen by the next read, a raced read cannot bring an old value back, Redis away means
PostgreSQL answers) runs with answers kept, as the service runs. Here: what makes two requests
the same answer, what is never kept, how long an answer lives, and a control showing that the
version check is what keeps a raced answer from being served.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

import cache.answers
from cache.answers import Answers, Pending
from cache.read_through import Reads
from settings import Settings
from tests.cache.races import TIMEOUT, Gate, unchecked_find
from tests.cache.test_interleaving import (
    buy,
    running,
    shares_in_database,
    shares_of,
    stale_fill_after_a_write,
)
from tests.cache.test_invalidation import Lookups
from tests.conftest import contract_documents, serving, unique_prefix
from tests.factories import insert_market, insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


@pytest.fixture
async def http(settings: Settings, seeded: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings.replace(cache_prefix=unique_prefix())) as client:
        yield client


@pytest.fixture
async def holder(db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> str:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 6)
    return telegram_id


async def post(
    http: httpx.AsyncClient,
    operation: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"query": DOCUMENTS, "operationName": operation, "variables": variables} | extra
    return await http.post("/graphql", json=body, headers=headers or {})


async def test_a_kept_answer_is_the_executed_answer_byte_for_byte(
    http: httpx.AsyncClient, holder: str, settings: Settings
) -> None:
    # And the answer that was kept is what a service keeping none answers (its bytes are sent
    # as they were kept, not encoded again).
    async with serving(settings.replace(answer_cache=False)) as keeping_none:
        for accept in ("application/json", "application/graphql-response+json"):
            counted = Lookups("answer")
            executed = await post(http, "Portfolio", {"telegramId": holder}, {"Accept": accept})
            kept = await post(http, "Portfolio", {"telegramId": holder}, {"Accept": accept})
            plain = await post(
                keeping_none, "Portfolio", {"telegramId": holder}, {"Accept": accept}
            )
            assert kept.status_code == executed.status_code == plain.status_code == 200
            assert kept.headers["content-type"] == executed.headers["content-type"]
            assert plain.headers["content-type"] == executed.headers["content-type"]
            assert accept in kept.headers["content-type"]
            assert kept.content == executed.content == plain.content
            assert executed.json()["data"]["user"]["portfolio"]["positionCount"] == 6
            # The first media type executed and kept the answer; the second found it at once.
            first = accept == "application/json"
            assert counted.delta("answer") == (
                {"hit": 1, "miss": 1} if first else {"hit": 2, "miss": 0}
            )


async def test_other_variables_operations_and_roles_are_other_answers(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    alice, bob = new_telegram_id(), new_telegram_id()
    for telegram_id, count in ((alice, 2), (bob, 4)):
        await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    keys = (("admin", "admin-key"), ("bot", "bot-key"))
    changed = settings.replace(cache_prefix=unique_prefix(), api_keys=keys)
    async with serving(changed) as http:

        async def portfolio(telegram_id: str, key: str) -> int:
            answer = await post(http, "Portfolio", {"telegramId": telegram_id}, {"X-API-Key": key})
            count: int = answer.json()["data"]["user"]["portfolio"]["positionCount"]
            return count

        assert await portfolio(alice, "admin-key") == 2
        counted = Lookups("answer")
        assert await portfolio(bob, "admin-key") == 4  # not Alice's answer
        assert await portfolio(alice, "bot-key") == 2  # not the admin's answer
        assert counted.delta("answer") == {"hit": 0, "miss": 2}
        history = await post(
            http, "PositionHistory", {"telegramId": alice}, {"X-API-Key": "bot-key"}
        )
        assert "portfolio" not in history.json()["data"]["user"]
        assert counted.delta("answer") == {"hit": 0, "miss": 3}
        assert await portfolio(alice, "bot-key") == 2
        assert counted.delta("answer") == {"hit": 1, "miss": 3}


async def test_errors_and_mutations_are_never_kept(
    http: httpx.AsyncClient, holder: str, db: asyncpg.Connection
) -> None:
    counted = Lookups("answer")
    for _ in range(2):
        refused = await post(http, "TrendingMarkets", {"first": 0})
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert counted.delta("answer") == {"hit": 0, "miss": 2}  # looked up, never kept

    row = await db.fetchrow(
        "SELECT p.market_id, p.outcome FROM position p JOIN app_user u ON u.id = p.user_id "
        "WHERE u.telegram_id = $1 LIMIT 1",
        int(holder),
    )
    assert row is not None
    trade = {"telegramId": holder, "marketId": row["market_id"], "outcome": row["outcome"],
             "side": "BUY", "shares": "1", "price": "0.5"}  # fmt: skip
    counted = Lookups("answer")
    for _ in range(2):
        bought = await post(http, "RecordTrade", {"input": trade})
        assert bought.json()["data"]["recordTrade"]["position"]["id"]
    assert counted.delta("answer") == {"hit": 0, "miss": 0}  # not even looked up


async def test_a_persisted_query_sent_by_hash_finds_the_answer(
    http: httpx.AsyncClient, holder: str
) -> None:
    digest = hashlib.sha256(DOCUMENTS.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    first = await post(http, "Portfolio", {"telegramId": holder}, extensions=persisted)
    counted = Lookups("answer")
    by_hash = await http.post(
        "/graphql",
        json={"operationName": "Portfolio", "variables": {"telegramId": holder},
              "extensions": persisted},
    )  # fmt: skip
    assert by_hash.content == first.content
    assert counted.delta("answer") == {"hit": 1, "miss": 0}


def keeping_with(monkeypatch: pytest.MonkeyPatch, change: Callable[[Reads], None]) -> None:
    """Answers kept as if what they read were `change`d first: a control's protection out."""
    real_keep = Answers.keep

    async def keep(self: Answers, pending: Pending, body: bytes) -> None:
        change(pending.session.reads)
        await real_keep(self, pending, body)

    monkeypatch.setattr(Answers, "keep", keep)


PRICES_TTL = 0.4


async def portfolio_past_the_price_ttl(settings: Settings, holder: str) -> dict[str, float]:
    """The answer lookups of a Portfolio repeated once the prices it read have expired."""
    changed = settings.replace(cache_prefix=unique_prefix(), ttl_prices=PRICES_TTL)
    async with serving(changed) as http:
        await post(http, "Portfolio", {"telegramId": holder})
        counted = Lookups("answer")
        await post(http, "Portfolio", {"telegramId": holder})
        assert counted.delta("answer") == {"hit": 1, "miss": 0}
        await asyncio.sleep(PRICES_TTL + 0.2)
        counted = Lookups("answer")
        await post(http, "Portfolio", {"telegramId": holder})
        return counted.delta("answer")


async def test_an_answer_lives_no_longer_than_the_shortest_ttl_it_read(
    settings: Settings, seeded: str, holder: str
) -> None:
    # Prices are the shortest class; a price nobody bumped still stops being served on time.
    assert await portfolio_past_the_price_ttl(settings, holder) == {"hit": 0, "miss": 1}


async def test_control_an_answer_kept_past_what_it_read_is_served_after_it_expired(
    settings: Settings, seeded: str, holder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept for an hour, whatever it read: its versions still hold, so it is served.
    keeping_with(monkeypatch, lambda reads: setattr(reads, "ttl", 3600.0))
    assert await portfolio_past_the_price_ttl(settings, holder) == {"hit": 1, "miss": 0}


LISTS_TTL = 0.8


async def trending_past_the_lists_life(settings: Settings) -> dict[str, float]:
    """The answer lookups of a trending page kept when its list had 0.3 s left, looked up
    again once the list has expired."""
    changed = settings.replace(cache_prefix=unique_prefix(), ttl_market_lists=LISTS_TTL)
    ids = "{ trendingMarkets(first: 5) { edges { node { id } } } }"
    more = "{ trendingMarkets(first: 5) { edges { node { id title } } } }"
    async with serving(changed) as http:
        await http.post("/graphql", json={"query": ids})  # fills the list
        await asyncio.sleep(LISTS_TTL - 0.3)
        counted = Lookups("answer", "trending")
        await http.post("/graphql", json={"query": more})
        assert counted.delta("trending") == {"hit": 1, "miss": 0}
        await http.post("/graphql", json={"query": more})
        assert counted.delta("answer") == {"hit": 1, "miss": 1}  # kept, for what is left
        await asyncio.sleep(0.4)
        counted = Lookups("answer")
        await http.post("/graphql", json={"query": more})
        return counted.delta("answer")


async def test_a_list_no_write_retires_bounds_the_answer_by_its_remaining_life(
    settings: Settings, seeded: str
) -> None:
    # The trending list is TTL-only: an answer read from it must not outlive it. Two documents
    # reading the same page: the second finds the list with 0.3 s left and keeps its answer.
    assert await trending_past_the_lists_life(settings) == {"hit": 0, "miss": 1}


async def test_control_an_answer_kept_for_the_lists_whole_ttl_outlives_the_list(
    settings: Settings, seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept for the lists' TTL class, as if the list it read were fresh: served after the list
    # it rests on has expired, and no write would ever retire it.
    keeping_with(monkeypatch, lambda reads: setattr(reads, "ttl", LISTS_TTL))
    assert await trending_past_the_lists_life(settings) == {"hit": 1, "miss": 0}


async def test_control_an_answer_kept_without_its_versions_would_be_served_stale(
    settings: Settings,
    db: asyncpg.Connection,
    seeded: str,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race of test_interleaving (a reader's SQL before a trade's commit, its fill after the
    # bump), with the answer's version check taken out: the raced answer comes back, so the
    # interleaving tests, which pass with answers kept, would catch a missing check.
    user = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, user), 2)

    monkeypatch.setattr(cache.answers, "FIND", unchecked_find())
    raced, in_database, after = await stale_fill_after_a_write(settings, db, user)
    assert after == raced != in_database
    assert all(isinstance(shares, Decimal) for shares in after)


async def test_identical_requests_at_once_execute_the_answer_once(
    http: httpx.AsyncClient, holder: str
) -> None:
    async def portfolio() -> tuple[int, bytes]:
        answer = await post(http, "Portfolio", {"telegramId": holder}, {"X-Debug-Counts": "1"})
        body = answer.json()
        sql: int = body["extensions"]["counts"]["sql"]
        return sql, orjson.dumps(body["data"])

    answers = await asyncio.gather(*(portfolio() for _ in range(6)))
    assert sum(sql for sql, _ in answers) == 3  # one execution: user, positions, markets
    assert len({data for _, data in answers}) == 1


async def waiter_that_began_after_a_trade(
    settings: Settings, db: asyncpg.Connection, user: str
) -> tuple[list[Decimal], list[Decimal], list[Decimal]]:
    """(What a Portfolio that read before a trade got, what is in the database, and what an
    identical Portfolio got that began after the trade returned and waited for the first.)"""
    async with running(settings) as (app, gql):
        gate = Gate("user_positions")
        app.state.cache.before_fill = gate
        leader = asyncio.create_task(shares_of(gql, user))
        await asyncio.wait_for(gate.reached.wait(), TIMEOUT)  # its SQL ran; its fill waits
        await buy(gql, db, user)  # committed, bumped, returned
        looked_up = Lookups("answer")
        waiter = asyncio.create_task(shares_of(gql, user))
        # Its look-up misses (the leader has kept nothing yet); it then waits for the leader
        # before it yields again, so once its miss is counted it is waiting.
        async with asyncio.timeout(TIMEOUT):
            while looked_up.delta("answer")["miss"] < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        gate.release.set()
        raced, _ = await asyncio.wait_for(leader, TIMEOUT)
        waited, _ = await asyncio.wait_for(waiter, TIMEOUT)
    return raced, await shares_in_database(db, user), waited


async def test_a_request_waiting_for_an_identical_one_checks_its_answer_again(
    settings: Settings, seeded: str, db: asyncpg.Connection, holder: str
) -> None:
    raced, in_database, waited = await waiter_that_began_after_a_trade(settings, db, holder)
    assert raced != in_database  # the leader read before the trade, as intended
    assert waited == in_database


async def test_control_a_waiter_taking_the_leaders_answer_unchecked_gets_the_old_value(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    holder: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The waiter's second look-up is what checks the leader's answer against the trade's bump.
    monkeypatch.setattr(cache.answers, "FIND", unchecked_find())
    raced, in_database, waited = await waiter_that_began_after_a_trade(settings, db, holder)
    assert waited == raced != in_database


async def market_for_a_token_that_appears(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> tuple[Any, Any, str]:
    """marketByToken for a token no market has, then again once a market holds it; and that
    market. The token is set in PostgreSQL, as loading markets does: no write of the service
    changes tokens, so nothing bumps a version."""
    market_id = await insert_market(db, outcomes=["Yes", "No"], prices=None)
    token = f"appearing-{market_id}"

    async def market() -> Any:
        answer = (await post(http, "MarketByToken", {"tokenId": token})).json()
        return answer["data"]["marketByToken"]

    before = await market()
    await db.execute(
        # One token per outcome: the No outcome's token becomes the one asked for.
        "UPDATE market SET clob_token_ids[2] = $2 WHERE id = $1",
        market_id,
        token,
    )
    return before, await market(), market_id


async def test_an_answer_resting_on_something_absent_and_unversioned_is_not_kept(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    before, after, market_id = await market_for_a_token_that_appears(http, db)
    assert before is None
    assert after is not None  # found at once: the null was not kept
    assert after["id"] == market_id


async def test_control_such_an_answer_kept_hides_what_appeared(
    http: httpx.AsyncClient, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept as if its reads could be checked: nothing would tell it that the token appeared.
    keeping_with(monkeypatch, lambda reads: setattr(reads, "complete", True))
    before, after, _ = await market_for_a_token_that_appears(http, db)
    assert before is None
    assert after is None


def test_an_operation_whose_answers_are_seldom_found_pauses_them() -> None:
    """Worth: a window of look-ups that found fewer than a tenth pauses look-ups (and keeps)
    of that operation alone for PAUSE seconds; then a new window measures again."""
    now = [0.0]
    worth = cache.answers.Worth(clock=lambda: now[0])
    portfolio = cache.answers.Question("doc", "Portfolio", {"telegramId": "1"}, None)
    markets = cache.answers.Question("doc", "MarketsBatch", {"ids": []}, None)
    for n in range(cache.answers.WINDOW):
        assert worth.asking(portfolio)
        worth.asked(portfolio, found=n < cache.answers.WINDOW * cache.answers.FOUND - 1)
        worth.asked(markets, found=True)
    assert not worth.asking(portfolio)  # one short of a tenth found: paused
    assert worth.asking(markets)  # another operation, found every time: asked
    now[0] += cache.answers.PAUSE
    assert worth.asking(portfolio)  # measured again
    for _ in range(cache.answers.WINDOW):
        worth.asked(portfolio, found=True)
    assert worth.asking(portfolio)


async def test_a_paused_operation_executes_fresh_and_keeps_nothing(
    settings: Settings, seeded: str, holder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While paused, a repeat executes (three round trips, one per loader, not the kept
    answer's one) and its answer is the same bytes as the kept one was. Without reading ahead,
    which would make the execution's three one (tests/cache/test_read_ahead.py)."""
    async with serving(settings.replace(cache_prefix=unique_prefix(), read_ahead=False)) as http:
        await _paused_executes(http, holder, monkeypatch)


async def _paused_executes(
    http: httpx.AsyncClient, holder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await post(http, "Portfolio", {"telegramId": holder}, {"X-Debug-Counts": "1"})
    kept = await post(http, "Portfolio", {"telegramId": holder}, {"X-Debug-Counts": "1"})
    assert kept.json()["extensions"]["counts"] == {"sql": 0, "redis": 1}
    monkeypatch.setattr(cache.answers.Worth, "asking", lambda self, question: False)
    paused = await post(http, "Portfolio", {"telegramId": holder}, {"X-Debug-Counts": "1"})
    assert paused.json()["extensions"]["counts"] == {"sql": 0, "redis": 3}
    assert paused.json()["data"] == kept.json()["data"] == first.json()["data"]
