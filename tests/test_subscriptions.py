"""The `triggers` subscription, end to end: real WebSocket clients speaking graphql-transport-ws.

Two `python app.py serve` processes share a database, a Redis and a key prefix: levels fired by
updateMarketPrices on one reach a subscriber on the other, once each, in firing order, with the
fields the test knows from what it set up; a subscriber that comes back with the last id it saw
gets exactly what it missed, then the live ones. Keys: a key without the role is refused before
any event flows (with a control, on an in-process server whose role table lets it through), a
forged `after` is BAD_USER_INPUT, no key or an unknown one gets nothing.

Each firing moves the price of the test's own market up by a cent; the test's positions hold
take-profit levels a cent apart, so each update fires exactly the one level it crosses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from app import create_app
from domain.trigger_ids import encode_event_id
from schema.extensions import role_check
from settings import Settings
from tests.conftest import contract_documents, unique_prefix
from tests.factories import insert_market, insert_user
from tests.server_processes import SERVE, Server, free_port, running_servers
from web import subscriptions

DOCUMENTS = contract_documents()
BOT, INGEST, ADMIN = ("bot-" + "b" * 20, "ingest-" + "i" * 20, "admin-" + "a" * 20)
# A second bot key, for the connection count alone: the other tests' connections, closing as
# the next test starts, would count against the first one's places.
COUNTED = "counted-" + "c" * 20
API_KEYS = f"bot:{BOT},ingest:{INGEST},admin:{ADMIN},bot:{COUNTED}"
SECRET = "subscriptions-test-secret-" + secrets.token_hex(8)
WAIT = 10.0  # seconds an expected message may take
QUIET = 1.0  # seconds of silence that show nothing more is coming
LEVELS = 30  # take-profit levels, a cent apart: one per firing
PROTOCOL = [Subprotocol("graphql-transport-ws")]
CONNECTIONS_PER_KEY = 3  # the servers' (each tests opens at most two at a time otherwise)
MAX_BYTES = 20_000  # the servers' MAX_BODY_BYTES, which bounds each WebSocket message too


@dataclass(frozen=True)
class Fired:
    """A level the test fired, as the subscriber must see it."""

    position_id: str
    telegram_id: str
    market_id: str
    price: str


@dataclass
class Market:
    """The test's market and its positions' levels, fired one by one from the lowest."""

    id: str
    positions: list[tuple[str, str]]  # (position id, telegram id), by level
    fired: int = 0


PREFIX = unique_prefix()  # the module's servers' (and its in-process server's): one deployment


@pytest.fixture(scope="module")
def servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "APP_ENV": "test",
        "API_KEYS": API_KEYS,
        "CURSOR_SECRET": SECRET,
        "CACHE_PREFIX": PREFIX,
        "CACHE_WARM_MARKETS": "0",
        "CACHE_REFRESH_MARKETS": "false",
        "RATE_LIMIT": "false",
        "GRAPHIQL": "false",
        "POOL_MIN_SIZE": "1",
        "POOL_MAX_SIZE": "4",
        "LOG_LEVEL": "INFO",
        "WS_CONNECTIONS_PER_KEY": str(CONNECTIONS_PER_KEY),
        "MAX_BODY_BYTES": str(MAX_BYTES),
    }
    specs = [("A", env, SERVE), ("B", env, SERVE)]
    with running_servers(specs, tmp_path_factory.mktemp("servers")) as started:
        yield started


@pytest.fixture
async def market(seeded: str, db: asyncpg.Connection) -> AsyncIterator[Market]:
    """A market of the test's own at 0.5, and LEVELS positions on "Yes", one per user (one
    ACTIVE position per user, market and outcome), take-profit levels 0.51, 0.52, ..."""
    market_id = await insert_market(
        db, outcomes=["Yes", "No"], prices=[Decimal("0.5"), Decimal("0.5")], active=False
    )
    positions = []
    for level in range(1, LEVELS + 1):
        telegram_id = str(9_500_000_000 + secrets.randbelow(10**12))
        user_id = await insert_user(db, telegram_id)
        position_id = await db.fetchval(
            """
            INSERT INTO position (user_id, market_id, outcome, shares, entry_price,
                                  take_profit_price)
            VALUES ($1, $2, 'Yes', 10, 0.5, $3) RETURNING id
            """,
            user_id,
            market_id,
            Decimal("0.5") + Decimal(level) / 100,
        )
        positions.append((str(position_id), telegram_id))
    yield Market(market_id, positions)
    await db.execute("DELETE FROM position WHERE market_id = $1", market_id)
    await db.execute("DELETE FROM market WHERE id = $1", market_id)


async def fire(server: Server, market: Market) -> Fired:
    """The next level, fired by updateMarketPrices on `server` (what the worker would send)."""
    market.fired += 1
    price = Decimal("0.5") + Decimal(market.fired) / 100
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": DOCUMENTS,
                "operationName": "UpdateMarketPrices",
                "variables": {
                    "updates": [
                        {"marketId": market.id, "outcomePrices": [str(price), str(1 - price)]}
                    ]
                },
            },
            headers={"Authorization": f"Bearer {INGEST}"},
        )
    position_id, telegram_id = market.positions[market.fired - 1]
    triggered = response.json()["data"]["updateMarketPrices"]["triggered"]
    assert [t["positionId"] for t in triggered] == [position_id], response.text
    return Fired(position_id, telegram_id, market.id, str(price))


def ws_url(server_url: str) -> str:
    return server_url.replace("http://", "ws://") + "/graphql"


@contextlib.asynccontextmanager
async def subscriber(
    url: str,
    *,
    key: str | None = BOT,
    header_key: str | None = None,
    after: str | None = None,
) -> AsyncIterator[ClientConnection]:
    """A connection (acknowledged) with the Triggers subscription sent as operation "1"."""
    headers = {"Authorization": f"Bearer {header_key}"} if header_key else None
    async with connect(ws_url(url), subprotocols=PROTOCOL, additional_headers=headers) as ws:
        payload = {"authorization": f"Bearer {key}"} if key else {}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        ack = await message(ws)
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            orjson.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": DOCUMENTS,
                        "operationName": "Triggers",
                        "variables": {"after": after},
                    },
                }
            ).decode()
        )
        yield ws


async def message(ws: ClientConnection, within: float = WAIT) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), within)
    assert isinstance(raw, str), "graphql-transport-ws speaks in text frames"
    found: dict[str, Any] = orjson.loads(raw)
    return found


async def events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` events of operation "1" (any error fails the test)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        received = await message(ws)
        assert (received["type"], received["id"]) == ("next", "1"), received
        assert "errors" not in received["payload"], received
        found.append(received["payload"]["data"]["triggers"])
    return found


async def nothing_more(ws: ClientConnection) -> None:
    try:
        extra = await message(ws, QUIET)
    except TimeoutError:
        return
    pytest.fail(f"unexpected message {extra}")


def check(received: list[dict[str, Any]], expected: list[Fired]) -> None:
    """The events are the fired levels, in firing order, each field as the test set it up."""
    assert [
        (e["positionId"], e["telegramId"], e["marketId"], e["kind"], Decimal(e["price"]))
        for e in received
    ] == [
        (f.position_id, f.telegram_id, f.market_id, "TAKE_PROFIT", Decimal(f.price))
        for f in expected
    ]
    now = datetime.now(UTC)
    for event in received:
        assert now - timedelta(minutes=1) < datetime.fromisoformat(event["firedAt"]) <= now
    ids = [e["id"] for e in received]
    assert ids == sorted(set(ids))  # increasing, as strings: none twice


async def first_event_after_subscribing(
    ws: ClientConnection, server: Server, market: Market
) -> tuple[list[Fired], dict[str, Any]]:
    """Fires levels until the subscription (started without `after`) sends one: the moment it
    starts is the server's, so the test learns it from the first event, not from a sleep."""
    fired: list[Fired] = []
    while len(fired) < 5:
        fired.append(await fire(server, market))
        with contextlib.suppress(TimeoutError):
            received = await message(ws, QUIET)
            assert received["type"] == "next", received
            return fired, received["payload"]["data"]["triggers"]
    pytest.fail("the subscription sent no event for five levels fired after it started")


async def test_levels_fired_on_one_process_reach_a_subscriber_on_another_once_in_order(
    servers: dict[str, Server], market: Market
) -> None:
    a, b = servers["A"], servers["B"]
    before = await fire(a, market)  # fired before the subscription: never sent
    async with subscriber(b.url) as ws:
        fired, first = await first_event_after_subscribing(ws, a, market)
        assert first["positionId"] != before.position_id
        # The first event is the last level fired, or one shortly before it, never earlier.
        start = [f.position_id for f in fired].index(first["positionId"])
        received = [first, *await events(ws, len(fired) - start - 1)]
        later = [await fire(a, market), await fire(b, market), await fire(a, market)]
        received += await events(ws, len(later))
        check(received, fired[start:] + later)
        await nothing_more(ws)


async def test_a_subscriber_back_with_its_last_id_gets_exactly_what_it_missed(
    servers: dict[str, Server], market: Market
) -> None:
    a, b = servers["A"], servers["B"]
    async with subscriber(b.url) as ws:
        fired, first = await first_event_after_subscribing(ws, a, market)
        start = [f.position_id for f in fired].index(first["positionId"])
        seen = [first, *await events(ws, len(fired) - start - 1)]
    missed = [await fire(a, market), await fire(b, market), await fire(a, market)]

    async with subscriber(a.url, after=seen[-1]["id"]) as ws:
        caught_up = await events(ws, len(missed))
        live = await fire(b, market)
        caught_up += await events(ws, 1)
        check(caught_up, [*missed, live])
        assert caught_up[0]["id"] > seen[-1]["id"]
        await nothing_more(ws)

    # Resuming from an earlier id replays from there: the same events, the same ids.
    async with subscriber(b.url, after=caught_up[0]["id"]) as ws:
        assert await events(ws, len(caught_up) - 1) == caught_up[1:]
        await nothing_more(ws)


async def test_an_after_the_server_did_not_issue_is_bad_user_input(
    servers: dict[str, Server], market: Market
) -> None:
    a = servers["A"]
    async with subscriber(a.url) as ws:
        _, first = await first_event_after_subscribing(ws, a, market)
    issued = first["id"]
    forged = [
        issued[:-1] + ("0" if issued[-1] != "0" else "1"),  # its signature edited
        f"{int(issued[:12], 16) - 1:012x}" + issued[12:],  # an earlier entry, same signature
        "0-0",  # Redis's own id
        "not an id",
    ]
    for after in forged:
        async with subscriber(a.url, after=after) as ws:
            received = await message(ws)
            assert received["type"] == "error", received
            [error] = received["payload"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
            assert error["extensions"]["field"] == "after"
            assert "not an event id this server issued" in error["message"]


async def test_an_after_older_than_the_stream_keeps_is_refused_not_skipped(
    servers: dict[str, Server], market: Market
) -> None:
    """A signed id whose entry the stream no longer holds: the events after it may be gone,
    so the bot is told rather than resumed with a hole. Control: the id of an entry it holds."""
    a = servers["A"]
    async with subscriber(a.url) as ws:
        _, first = await first_event_after_subscribing(ws, a, market)
    stream = f"{PREFIX}:triggers"
    trimmed = encode_event_id((1, 0), stream, SECRET)  # 1 ms after 1970: long trimmed
    async with subscriber(a.url, after=trimmed) as ws:
        received = await message(ws)
        assert received["type"] == "error", received
        [error] = received["payload"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "no longer kept" in error["message"]
    async with subscriber(a.url, after=first["id"]) as ws:
        await nothing_more(ws)  # nothing fired since: no error, no event


async def test_opening_connections_counts_against_the_key_rate_limit(
    settings: Settings,
) -> None:
    ours = settings.replace(
        cache_prefix=unique_prefix(),
        api_keys=(("bot", BOT), ("admin", ADMIN)),
        rate_limit=True,
        rate_limit_per_key="2/minute",
    )
    async with in_process_server(ours) as url:
        for _ in range(2):
            async with subscriber(url, key=None, header_key=BOT):
                pass
        with pytest.raises(InvalidStatus) as refused:
            async with subscriber(url, key=None, header_key=BOT):
                pass
        assert refused.value.response.status_code == 403
        # Control: another key has its own count.
        async with subscriber(url, key=None, header_key=ADMIN):
            pass


async def test_without_a_known_key_nothing_is_accepted(servers: dict[str, Server]) -> None:
    a = servers["A"]
    with pytest.raises(InvalidStatus) as refused:  # an unknown key in the upgrade's headers
        async with subscriber(a.url, key=None, header_key="unknown-" + "u" * 20):
            pass
    assert refused.value.response.status_code == 403
    for key in (None, "unknown-" + "u" * 20):  # none, or an unknown one, in connection_init
        async with connect(ws_url(a.url), subprotocols=PROTOCOL) as ws:
            payload = {"authorization": f"Bearer {key}"} if key else {}
            await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
            with pytest.raises(ConnectionClosed) as closed:
                await message(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
    # A key in the upgrade's headers is enough (the admin's may subscribe too).
    async with subscriber(a.url, key=None, header_key=ADMIN) as ws:
        await nothing_more(ws)


@contextlib.asynccontextmanager
async def in_process_server(settings: Settings) -> AsyncIterator[str]:
    """The app under uvicorn in this test's event loop, so a test can change its role table."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the in-process server did not start"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def ingest_key_outcome(url: str, server: Server, market: Market) -> set[str]:
    """What the ingest key meets, in connection_init and in the upgrade's headers: "closed
    4403" (at connection_init), an error's code (the subscription refused), or "event" (the
    levels fired meanwhile reach it)."""
    outcomes = set()
    for key, header_key in ((INGEST, None), (None, INGEST)):
        try:
            async with subscriber(url, key=key, header_key=header_key) as ws:
                for _ in range(5):
                    with contextlib.suppress(TimeoutError):
                        received = await message(ws, QUIET)
                        break
                    await fire(server, market)
                else:
                    pytest.fail("neither refused nor sent an event")
                if received["type"] == "next" and "errors" not in received["payload"]:
                    outcomes.add("event")
                else:
                    errors = received["payload"]
                    errors = errors if isinstance(errors, list) else errors["errors"]
                    outcomes.add(errors[0]["extensions"]["code"])
        except ConnectionClosed as closed:
            outcomes.add(f"closed {closed.rcvd.code if closed.rcvd else None}")
    return outcomes


async def test_a_key_without_the_role_is_refused_before_any_event(
    servers: dict[str, Server],
    market: Market,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = settings.replace(
        cache_prefix=PREFIX,
        api_keys=(("bot", BOT), ("ingest", INGEST), ("admin", ADMIN)),
        cursor_secret=SECRET,
    )
    async with in_process_server(ours) as url:
        assert await ingest_key_outcome(url, servers["A"], market) == {"closed 4403"}
        # Let through at connection_init, the subscription itself is refused (RoleCheck).
        monkeypatch.setattr(subscriptions, "may_subscribe", lambda role: True)
        assert await ingest_key_outcome(url, servers["A"], market) == {"FORBIDDEN"}
        # Control: the role table letting `ingest` subscribe, the same key gets events.
        monkeypatch.setitem(role_check.ROLE_FIELDS["ingest"], "subscription", None)
        assert await ingest_key_outcome(url, servers["A"], market) == {"event"}


async def test_a_subscription_sent_by_http_is_refused(servers: dict[str, Server]) -> None:
    async with httpx.AsyncClient(base_url=servers["A"].url) as http:
        response = await http.post(
            "/graphql",
            json={"query": DOCUMENTS, "operationName": "Triggers"},
            headers={"Authorization": f"Bearer {BOT}"},
        )
    assert response.status_code == 400
    assert "WebSocket" in response.text


async def test_queries_and_mutations_go_by_http_not_over_the_socket(
    servers: dict[str, Server],
) -> None:
    async with subscriber(servers["A"].url) as ws:
        await events(ws, 0)
        await ws.send(
            orjson.dumps(
                {
                    "id": "2",
                    "type": "subscribe",
                    "payload": {
                        "query": DOCUMENTS,
                        "operationName": "Portfolio",
                        "variables": {"telegramId": "1"},
                    },
                }
            ).decode()
        )
        refused = await message(ws)
        assert (refused["id"], refused["type"]) == ("2", "error")
        assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_connections_per_key_are_bounded_and_given_back(
    servers: dict[str, Server],
) -> None:
    a = servers["A"]
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(CONNECTIONS_PER_KEY):
            await stack.enter_async_context(subscriber(a.url, key=COUNTED))
        with pytest.raises(ConnectionClosed) as refused:
            async with subscriber(a.url, key=COUNTED):
                pass
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4429
        # Another process counts its own; another key has its own places.
        async with subscriber(servers["B"].url, key=COUNTED), subscriber(a.url, key=BOT):
            pass
    # Closed connections give their places back, once the server has seen them close.
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        try:
            async with subscriber(a.url, key=COUNTED) as ws:
                await nothing_more(ws)
                break
        except ConnectionClosed:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_message_over_the_body_limit_closes_the_connection(
    servers: dict[str, Server],
) -> None:
    async def send_document_of(size: int) -> dict[str, Any] | int:
        """What a subscribe message of about `size` bytes gets: a message, or a close code."""
        async with subscriber(servers["A"].url) as ws:
            query = "subscription Big { triggers { id } }" + " " * size
            await ws.send(
                orjson.dumps({"id": "2", "type": "subscribe", "payload": {"query": query}}).decode()
            )
            try:
                return await message(ws, QUIET)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else -1
            except TimeoutError:
                return {}

    assert await send_document_of(MAX_BYTES + 1) == 1009
    # Control: just under the limit, the connection stays (the subscription runs, quietly).
    assert await send_document_of(MAX_BYTES - 200) == {}


async def test_each_connection_has_a_request_id_and_a_log_line(
    servers: dict[str, Server],
) -> None:
    a = servers["A"]
    async with subscriber(a.url, key=ADMIN) as ws:
        assert ws.response is not None
        request_id = ws.response.headers["x-request-id"]
        await nothing_more(ws)
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        lines = [orjson.loads(line) for line in a.log_path.read_text().splitlines()]
        mine = [line for line in lines if line.get("request_id") == request_id]
        if mine or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    [line] = mine
    assert line["message"] == "WS /graphql 101 closed 1000"
    assert (line["operation"], line["role"]) == ("Triggers", "admin")
