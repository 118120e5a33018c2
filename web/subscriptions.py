"""Subscriptions over WebSocket (graphql-transport-ws): the HTTP edge's rules, for a connection.

Strawberry speaks the protocol; this handler adds what the HTTP path has. The key: one from
the upgrade's headers was checked by web/api_keys.py; else connection_init's payload must carry
`{"authorization": "Bearer <key>"}`, checked here before the connection is acknowledged, so
nothing runs without it. The role: a key whose role may run no subscription (`ingest`) is
refused at connection_init (4403), and schema/extensions/role_check.py refuses a subscription
outside the role again (the same table). The limits: connections per key and per process
(WS_CONNECTIONS_PER_KEY, 4429 beyond), subscriptions per connection (the view's), the size of
each message (web/body_limit.py), the opening counted against the key's rate limit
(web/rate_limits.py). Errors are shaped as over HTTP (web/shaping.py), and the connection's log
line (web/request_scope.py) names its operation.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson
from graphql import OperationType
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult

from context import Context
from schema.extensions.documents import Documents
from schema.extensions.role_check import may_subscribe
from web.api_keys import admit, key_of_authorization, role_of
from web.shaping import shape_errors

log = logging.getLogger(__name__)


_BY_HTTP = (OperationType.QUERY, OperationType.MUTATION)


class Connections:
    """Open subscription connections per key (per client address when the API runs open), in
    this process: counted once acknowledged, until the connection ends."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self.open: Counter[str] = Counter()

    def take(self, who: str) -> bool:
        if self.open[who] >= self.per_key:
            return False
        self.open[who] += 1
        return True

    def give_back(self, who: str) -> None:
        self.open[who] -= 1
        if self.open[who] <= 0:
            del self.open[who]


class TextFrames(ASGIWebSocketAdapter):
    """The protocol's messages in text frames, as graphql-transport-ws requires (browsers'
    clients drop binary ones): the view's encode_json makes bytes, for its HTTP bodies."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class SubscriptionSocket(BaseGraphQLTransportWSHandler[Context, None]):
    """One WebSocket connection: admitted at connection_init, its results shaped."""

    _slot: str | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if not self.connection_init_received and not self.connection_timed_out:
            refusal = self._admit(message.get("payload"))
            if refusal is not None:
                code, reason = refusal
                log.info("subscription connection refused: %s", reason)
                await self.websocket.close(code=code, reason=reason)
                return
        await super().handle_connection_init(message)

    def _admit(self, payload: object) -> tuple[int, str] | None:
        """None when the connection may go on (its role in the context), else (code, reason)."""
        context = self.context
        scope = context.request.scope
        state = scope.setdefault("state", {})
        keys: tuple[tuple[str, str], ...] = context.settings.api_keys
        if keys and "role" not in state:
            presented = _payload_key(payload)
            role = role_of(presented, keys) if presented else None
            if role is None:
                return 4401, "Unauthorized: send a valid API key as connection_init's authorization"
            admit(scope, role, presented)
        context.role = state.get("role")
        if not may_subscribe(context.role):
            return 4403, f"Forbidden: the '{context.role}' key may not subscribe"
        client = scope.get("client") or ("unknown", 0)
        who = state.get("key_id") or f"address:{client[0]}"
        connections: Connections = self.view.connections  # type: ignore[attr-defined]
        if not connections.take(who):
            return 4429, f"Too many connections: at most {connections.per_key} per key"
        self._slot = who
        return None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload") or {}
        name, query = payload.get("operationName"), payload.get("query")
        counts = self.context.counts
        if isinstance(name, str) and counts.operation is None:
            counts.operation = name  # for the connection's log line
        documents: Documents = self.view.documents  # type: ignore[attr-defined]
        kind = documents.operation_type(query, name) if isinstance(query, str) else None
        if self.connection_acknowledged and kind in _BY_HTTP:
            # Queries and mutations go by HTTP, through its kept answers and per-user limits;
            # a socket that ran them would be a way around those.
            await self.send_message(
                {
                    "id": message["id"],
                    "type": "error",
                    "payload": [
                        {
                            "message": "Only subscriptions run over WebSocket: send queries "
                            "and mutations by HTTP POST.",
                            "extensions": {"code": "BAD_REQUEST"},
                        }
                    ],
                }
            )
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self._slot is not None:
                self.view.connections.give_back(self._slot)  # type: ignore[attr-defined]
                self._slot = None

    async def _send_result_stream(
        self, operation: Operation[Context, None], result_source: Any
    ) -> None:
        await super()._send_result_stream(operation, self._shaped(result_source))

    async def _shaped(self, results: Any) -> AsyncGenerator[Any, None]:
        async for result in results:
            if isinstance(result, ExecutionResult) and result.errors:
                result.errors = shape_errors(result.errors, self.context.request_id)
            yield result


def _payload_key(payload: object) -> str:
    """The key of connection_init's `{"authorization": "Bearer <key>"}` (any case of the name)."""
    if not isinstance(payload, dict):
        return ""
    for name, value in payload.items():
        if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
            return key_of_authorization(value)
    return ""
