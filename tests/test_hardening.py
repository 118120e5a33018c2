"""Production hardening: who may call, what is refused cheaply, and how overload is answered.

Each test builds its own app with the settings under test (a key prefix of its own, so nothing
is shared), and checks what a caller or an operator would see: status codes, error codes,
headers, and that a refused request wrote nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from app import create_app
from settings import Settings, SettingsError
from sql.databases import scratch_database
from tests.conftest import contract_documents, serving, unique_prefix
from tests.factories import insert_market, insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()
KEYS = (("bot", "b" * 32), ("ingest", "i" * 32), ("admin", "a" * 32))


def ours(settings: Settings, **changes: Any) -> Settings:
    return settings.replace(cache_prefix=unique_prefix(), **changes)


async def post(
    http: httpx.AsyncClient,
    operation: str | None,
    variables: dict[str, Any] | None = None,
    *,
    query: str = DOCUMENTS,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if key:
        sent["Authorization"] = f"Bearer {key}"
    body = {"query": query, "variables": variables or {}, "operationName": operation}
    return await http.post("/graphql", json=body, headers=sent)


def codes(response: httpx.Response) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors") or []]


# Keys and roles


async def test_no_key_or_a_wrong_key_is_401(settings: Settings, seeded: str) -> None:
    async with serving(ours(settings, api_keys=KEYS)) as http:
        missing = await post(http, "TrendingMarkets", {"first": 1})
        wrong = await post(http, "TrendingMarkets", {"first": 1}, key="x" * 32)
        health = await http.get("/healthz")
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert codes(response) == ["UNAUTHENTICATED"]
    assert health.status_code == 200


async def test_each_role_runs_what_it_may_and_nothing_else(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    market = await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2)
    update = {"updates": [{"marketId": market, "outcomePrices": ["0.3", "0.7"]}]}
    bot, ingest, admin = (key for _, key in KEYS)
    async with serving(ours(settings, api_keys=KEYS)) as http:
        assert codes(await post(http, "TrendingMarkets", {"first": 1}, key=bot)) == []
        refused = await post(http, "UpdateMarketPrices", update, key=bot)
        assert codes(refused) == ["FORBIDDEN"]
        assert refused.json()["data"] is None
        prices = await db.fetchval("SELECT outcome_prices FROM market WHERE id = $1", market)
        assert prices == [Decimal("0.5")] * 2  # nothing ran

        assert codes(await post(http, "TrendingMarkets", {"first": 1}, key=ingest)) == ["FORBIDDEN"]
        assert codes(await post(http, "UpdateMarketPrices", update, key=ingest)) == []
        by_header = await post(http, "UpdateMarketPrices", update, headers={"X-API-Key": admin})
        assert codes(by_header) == []
        # A forbidden field hidden in a fragment is found too.
        sneaky = (
            "mutation { ...F } "
            "fragment F on Mutation { updateMarketPrices(updates: []) { updated } }"
        )
        assert codes(await post(http, None, query=sneaky, key=bot)) == ["FORBIDDEN"]


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(SettingsError, match="API_KEYS"):
        Settings.from_env({"APP_ENV": "production", "CURSOR_SECRET": "s" * 32})
    with pytest.raises(SettingsError, match="API_KEYS"):
        Settings.from_env({"API_KEYS": "bot:short"})
    production = Settings.from_env(
        {"APP_ENV": "production", "CURSOR_SECRET": "s" * 32, "API_KEYS": f"bot:{'k' * 20}"}
    )
    assert (production.introspection, production.graphiql) == (False, False)


# Limits


async def test_depth_aliases_tokens_and_list_sizes_are_refused_before_running(
    settings: Settings, seeded: str
) -> None:
    limited = ours(settings, max_depth=2, max_aliases=5, max_tokens=1500)
    async with serving(limited) as http:
        deep = await post(http, "Portfolio", {"telegramId": "1"})
        # Validation covers the whole document: each operation deeper than 2 is named.
        assert set(codes(deep)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert any("exceeds maximum operation depth" in e["message"] for e in deep.json()["errors"])
        assert deep.json()["data"] is None
        aliases = " ".join(f"a{i}: __typename" for i in range(6))
        assert codes(await post(http, None, query=f"{{ {aliases} }}")) == [
            "GRAPHQL_VALIDATION_FAILED"
        ]
        many_tokens = "{ " + " ".join("__typename" for _ in range(1600)) + " }"
        assert codes(await post(http, None, query=many_tokens)) == ["GRAPHQL_PARSE_FAILED"]
    async with serving(ours(settings, max_list_items=10)) as http:
        ids = await post(http, "MarketsBatch", {"ids": [str(i) for i in range(11)]})
        assert codes(ids) == ["BAD_USER_INPUT"]
        assert ids.json()["errors"][0]["extensions"]["field"] == "ids"


async def test_an_oversized_body_is_413(settings: Settings, seeded: str) -> None:
    async with serving(ours(settings, max_body_bytes=10_000)) as http:
        response = await post(http, "MarketsBatch", {"ids": ["1" * 100] * 200})
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]


async def test_a_slow_statement_is_cancelled_by_postgresql(settings: Settings, seeded: str) -> None:
    app = create_app(ours(settings, statement_timeout=0.2))
    async with app.router.lifespan_context(app):
        with pytest.raises(asyncpg.QueryCanceledError):
            await app.state.database.fetch("SELECT pg_sleep(2)")


async def test_production_hides_the_schema_and_suggestions(settings: Settings, seeded: str) -> None:
    production = ours(settings, app_env="production", introspection=False, graphiql=False)
    async with serving(production) as http:
        introspection = await post(http, None, query="{ __schema { types { name } } }")
        typo = await post(
            http, None, query="{ trendingMarket(first: 1) { pageInfo { hasNextPage } } }"
        )
        page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert set(codes(introspection)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "Did you mean" not in typo.json()["errors"][0]["message"]
    assert page.status_code == 404


async def test_internal_errors_are_masked_and_logged_with_the_request_id(
    settings: Settings,
    seeded: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from loaders.market_lists import TrendingLoader

    async def broken(self: TrendingLoader, pages: list[Any]) -> list[Any]:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(TrendingLoader, "batch_load_fn", broken)
    async with serving(ours(settings)) as http:
        with caplog.at_level(logging.ERROR, logger="web.shaping"):
            response = await post(
                http, "TrendingMarkets", {"first": 1}, headers={"X-Request-ID": "req-77"}
            )
    error = response.json()["errors"][0]
    assert "secret" not in response.text
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-77"}
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-77"]
    assert logged
    assert logged[0].exc_info is not None
    assert "SELECT secret" in str(logged[0].exc_info[1])


# Rate limits


async def test_a_telegram_user_over_the_limit_gets_429_with_retry_after(
    settings: Settings, seeded: str
) -> None:
    limited = ours(settings, rate_limit=True, rate_limit_per_user="3/minute")
    async with serving(limited) as http:
        user = {"X-Telegram-User": "777000111"}
        answers = [
            await post(http, "TrendingMarkets", {"first": 1}, headers=user) for _ in range(4)
        ]
        other = await post(
            http, "TrendingMarkets", {"first": 1}, headers={"X-Telegram-User": "777000222"}
        )
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert codes(refused) == ["RATE_LIMITED"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.json()["errors"][0]["extensions"]["retryAfter"] >= 1
    assert other.status_code == 200  # one user's limit is not another's


async def test_each_api_key_has_its_own_limit(settings: Settings, seeded: str) -> None:
    limited = ours(settings, api_keys=KEYS, rate_limit=True, rate_limit_per_key="2/minute")
    bot, _, admin = (key for _, key in KEYS)
    async with serving(limited) as http:
        statuses = [
            (await post(http, "TrendingMarkets", {"first": 1}, key=bot)).status_code
            for _ in range(3)
        ]
        admin_status = (await post(http, "TrendingMarkets", {"first": 1}, key=admin)).status_code
    assert statuses == [200, 200, 429]
    assert admin_status == 200


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_rate_limits_hold_in_process_while_redis_is_away(
    settings: Settings, seeded: str
) -> None:
    away = ours(
        settings,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        redis_timeout=0.1,
        rate_limit=True,
        rate_limit_per_user="2/minute",
    )
    async with serving(away) as http:
        user = {"X-Telegram-User": "777000333"}
        answers = [
            await post(http, "TrendingMarkets", {"first": 1}, headers=user) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert codes(answers[0]) == []  # served from PostgreSQL meanwhile


# The pool, readiness


async def test_an_exhausted_pool_answers_busy_fast(settings: Settings, seeded: str) -> None:
    tight = ours(settings, pool_min_size=1, pool_max_size=1, pool_acquire_timeout=0.2)
    app = create_app(tight)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            async with app.state.database.connection():  # the only connection, held
                started = asyncio.get_running_loop().time()
                response = await post(http, "TrendingMarkets", {"first": 1})
                waited = asyncio.get_running_loop().time() - started
            after = await post(http, "TrendingMarkets", {"first": 1})
    assert codes(response) == ["SERVICE_BUSY"]
    assert "busy" in response.json()["errors"][0]["message"]
    assert waited < 2
    assert codes(after) == []


async def test_readiness_checks_postgres_migrations_and_redis(
    settings: Settings, seeded: str, server_url: str
) -> None:
    async with serving(ours(settings)) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}

    async with scratch_database(server_url, "unready") as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "DELETE FROM schema_migration WHERE name = '0003_position.sql'"
            )
        finally:
            await connection.close()
        away = ours(settings, database_url=url, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
        async with serving(away) as http:
            unready = await http.get("/readyz")
    assert unready.status_code == 503
    checks = unready.json()["checks"]
    assert checks["postgres"] == "migrations pending: 0003_position.sql"
    assert checks["redis"].startswith("unreachable")


async def test_pool_gauges_are_in_metrics(
    client: httpx.AsyncClient, new_telegram_id: Callable[[], str], db: asyncpg.Connection
) -> None:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 1)
    text = (await client.get("/metrics")).text
    assert 'polycool_pool_connections{state="max"} 5.0' in text
    assert 'polycool_pool_connections{state="open"}' in text
