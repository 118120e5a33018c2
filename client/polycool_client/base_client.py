"""Hand-written, not generated: how the generated `Client` talks to the service.

ariadne-codegen copies this file into the package it writes (base_client_file_path in
client/pyproject.toml), so `make client` leaves it as it is. It stands in for the generator's
default base client for three reasons: every error the service answers becomes one
`PolycoolError` whose `code` is the error's `extensions.code` (the default raises a list of
errors whose codes the caller has to dig out, and an HTTP error with none at all: the service
answers 401, 413 and 429 with the same GraphQL error shape); the API key travels as
`Authorization: Bearer <key>`; and subscriptions speak graphql-transport-ws, the protocol
Strawberry serves, over `websockets`, on the same path as the queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

import httpx
from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.typing import Subprotocol

from .base_model import UNSET

# After these the same request may well succeed if sent again shortly.
RETRYABLE_CODES = frozenset({"SERVICE_BUSY", "SERVICE_UNAVAILABLE", "RATE_LIMITED"})
# graphql-transport-ws closes a socket with these codes for what an HTTP request would get as
# a 401 or a 403.
CLOSE_CODES = {4401: "UNAUTHENTICATED", 4403: "FORBIDDEN"}
SUBPROTOCOL = Subprotocol("graphql-transport-ws")
JSON_VALUES: TypeAdapter[Any] = TypeAdapter(Any)


class PolycoolError(Exception):
    """The service refused or failed a request.

    `code` is the first error's `extensions.code` (BAD_USER_INPUT, NOT_FOUND, FORBIDDEN,
    UNAUTHENTICATED, RATE_LIMITED, SERVICE_BUSY...), None when the answer carried none (say, a
    proxy's error page); `field` is the input it names, when it names one; `errors` holds every
    error as answered, `data` whatever part of the answer was computed, `status_code` the HTTP
    status (None over WebSocket).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        data: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.errors = errors or []
        self.data = data
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    @classmethod
    def from_errors(
        cls,
        errors: list[dict[str, Any]],
        data: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> PolycoolError:
        extensions = errors[0].get("extensions") or {}
        return cls(
            "; ".join(str(error.get("message")) for error in errors),
            code=extensions.get("code"),
            field=extensions.get("field"),
            errors=errors,
            data=data,
            status_code=status_code,
        )


class PolycoolBaseClient:
    """One service: queries and mutations POSTed to `url` (httpx), subscriptions on `ws_url`
    (by default `url` with ws:// or wss://). `api_key`, when given, goes with both."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        ws_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.ws_url = ws_url or url.replace("http", "ws", 1)
        self.headers = dict(headers or {})
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self._owns_http_client = http_client is None
        self.http_client = http_client or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the HTTP client this client made (one passed in stays open)."""
        if self._owns_http_client:
            await self.http_client.aclose()

    async def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """POSTs one operation; `kwargs` go to httpx (`headers` are added to the client's)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        body = {"query": query, "operationName": operation_name, "variables": _encode(variables)}
        return await self.http_client.post(self.url, json=body, headers=headers, **kwargs)

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's data, or the PolycoolError its errors make (whatever the status)."""
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise PolycoolError(
                f"HTTP {response.status_code}: not a GraphQL answer",
                code=None,
                status_code=response.status_code,
            )
        if answer.get("errors"):
            raise PolycoolError.from_errors(
                answer["errors"], answer.get("data"), response.status_code
            )
        if not response.is_success or not isinstance(answer.get("data"), dict):
            raise PolycoolError(
                f"HTTP {response.status_code} with no data and no error",
                code=None,
                status_code=response.status_code,
            )
        data: dict[str, Any] = answer["data"]
        return data

    async def execute_ws(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Each event's data, as the service pushes it, until it completes the subscription.

        An error message of the protocol, or an event carrying errors, raises PolycoolError, as
        does a refused handshake (with the HTTP answer's code) and a socket closed with 4401
        or 4403; any other dropped connection raises websockets' ConnectionClosed: subscribe
        again (with the last event's id where the subscription resumes from one).
        `kwargs` go to websockets' connect (`additional_headers` are added to the client's).
        """
        headers = {**self.headers, **kwargs.pop("additional_headers", {})}
        # websockets stops reading while 16 messages wait unread; a caller leaving then would
        # wait close_timeout (10 s) for a close frame that is never read. Events are small and
        # the caller reads them as they come, so the queue is left unbounded.
        kwargs.setdefault("max_queue", None)
        try:
            async with connect(
                self.ws_url, subprotocols=[SUBPROTOCOL], additional_headers=headers, **kwargs
            ) as socket:
                async with asyncio.timeout(self.timeout):
                    await _open(socket)
                operation_id = str(uuid4())
                payload = {
                    "query": query,
                    "operationName": operation_name,
                    "variables": _encode(variables),
                }
                await _send(socket, {"id": operation_id, "type": "subscribe", "payload": payload})
                try:
                    async for data in _events(socket):
                        yield data
                finally:
                    # The caller stopped early: tell the server, which then stops the stream.
                    with contextlib.suppress(ConnectionClosed):
                        await _send(socket, {"id": operation_id, "type": "complete"})
        except InvalidStatus as refused:
            raise _refusal(refused.response.status_code, refused.response.body) from refused
        except ConnectionClosedError as closed:
            if closed.rcvd is None or closed.rcvd.code not in CLOSE_CODES:
                raise
            code = CLOSE_CODES[closed.rcvd.code]
            raise PolycoolError(closed.rcvd.reason or code, code=code) from closed


def _encode(variables: dict[str, Any] | None) -> dict[str, Any]:
    """Variables as JSON values: omitted arguments (UNSET) left out, so the service leaves what
    they name as it is; inputs by their GraphQL names, with the fields the caller set (an
    explicit None is sent: it clears); Decimals as strings, datetimes in ISO 8601."""
    return {
        name: JSON_VALUES.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
        for name, value in (variables or {}).items()
        if value is not UNSET
    }


async def _send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def _open(socket: ClientConnection) -> None:
    """connection_init, then wait for the server's connection_ack (answering pings)."""
    await _send(socket, {"type": "connection_init", "payload": {}})
    while True:
        message = json.loads(await socket.recv())
        if message.get("type") == "connection_ack":
            return
        if message.get("type") == "ping":
            await _send(socket, {"type": "pong"})


async def _events(socket: ClientConnection) -> AsyncIterator[dict[str, Any]]:
    async for raw in socket:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "next":
            payload = message.get("payload") or {}
            if payload.get("errors"):
                raise PolycoolError.from_errors(payload["errors"], payload.get("data"))
            yield payload["data"]
        elif kind == "error":
            raise PolycoolError.from_errors(message.get("payload") or [{"message": "error"}])
        elif kind == "complete":
            return
        elif kind == "ping":
            await _send(socket, {"type": "pong"})


def _refusal(status_code: int, body: bytes | bytearray | None) -> PolycoolError:
    """A handshake the service answered with an HTTP error: its GraphQL errors, if it sent any."""
    try:
        answer = json.loads(body or b"")
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("errors"):
        return PolycoolError.from_errors(answer["errors"], status_code=status_code)
    return PolycoolError(
        f"HTTP {status_code}: WebSocket handshake refused", code=None, status_code=status_code
    )
