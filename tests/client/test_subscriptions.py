"""The client's subscriptions against Strawberry's own graphql-transport-ws server.

The contract's subscription (Triggers) is driven through the generated method in test_client.py;
here the hand-written half, base_client.py's `execute_ws`, meets the protocol as Strawberry
speaks it, from a small schema of this file's served by uvicorn on a free port: events in order
until the server completes, the key on the handshake, an error with its code, a refused
connection with the code its close names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
import strawberry
import uvicorn
from graphql import GraphQLError
from polycool_client import Client, PolycoolError
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

from tests.server_processes import free_port

KEY = "subscriber-key-0123456789"


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def countdown(self, start: int) -> AsyncGenerator[int, None]:
        if start < 0:
            raise GraphQLError(
                "start: must be 0 or more", extensions={"code": "BAD_USER_INPUT", "field": "start"}
            )
        for number in range(start, 0, -1):
            yield number

    @strawberry.subscription
    async def authorization(self, info: Info) -> AsyncGenerator[str, None]:
        yield info.context["request"].headers.get("authorization", "")


class KeyedGraphQL(GraphQL[dict[str, object], None]):
    """Refuses a connection without the key, as graphql-transport-ws does: closed with 4403."""

    async def on_ws_connect(self, context: dict[str, object]) -> None:
        request = context["request"]
        assert isinstance(request, WebSocket)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            raise ConnectionRejectionError()


@pytest.fixture(scope="module")
async def url() -> AsyncIterator[str]:
    app = KeyedGraphQL(strawberry.Schema(query=Query, subscription=Subscription))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110  # uvicorn sets a flag, no event
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await serving


async def collect(client: Client, query: str, variables: dict[str, object]) -> list[object]:
    return [data async for data in client.execute_ws(query, None, variables)]


async def test_events_arrive_in_order_until_the_server_completes(url: str) -> None:
    async with Client(url, api_key=KEY) as client:
        events = await collect(client, "subscription ($n: Int!) { countdown(start: $n) }", {"n": 3})
    assert events == [{"countdown": 3}, {"countdown": 2}, {"countdown": 1}]


async def test_the_key_goes_on_the_handshake_as_a_bearer_header(url: str) -> None:
    async with Client(url, api_key=KEY) as client:
        events = await collect(client, "subscription { authorization }", {})
    assert events == [{"authorization": f"Bearer {KEY}"}]


async def test_an_error_raises_with_its_code(url: str) -> None:
    async with Client(url, api_key=KEY) as client:
        with pytest.raises(PolycoolError) as refused:
            await collect(client, "subscription ($n: Int!) { countdown(start: $n) }", {"n": -1})
    assert (refused.value.code, refused.value.field) == ("BAD_USER_INPUT", "start")


async def test_a_refused_connection_raises_forbidden(url: str) -> None:
    async with Client(url, api_key="not-the-key-0123456789") as client:
        with pytest.raises(PolycoolError) as refused:
            await collect(client, "subscription { authorization }", {})
    assert refused.value.code == "FORBIDDEN"


async def test_leaving_early_closes_at_once(url: str) -> None:
    """With a thousand events unread (websockets' default queue would stop reading at 16, and
    closing would then wait its 10 s close timeout)."""
    async with Client(url, api_key=KEY) as client:
        events = client.execute_ws("subscription { countdown(start: 1000) }")
        first = await anext(events)
        await asyncio.sleep(0.2)  # the rest arrive meanwhile
        started = time.monotonic()
        await events.aclose()
        took = time.monotonic() - started
    assert first == {"countdown": 1000}
    assert took < 2
