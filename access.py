"""Who may call the API: API keys with roles, checked before any resolver runs.

Keys come from API_KEYS (role:key pairs) and travel as `Authorization: Bearer <key>` or
`X-API-Key`. A request to /graphql without a known key is refused with 401 by the middleware;
a known key may only run what its role allows (`ROLE_FIELDS`), checked by the extension on the
operation's root fields before execution, so a forbidden operation runs nothing at all.
With no keys configured (development and test only; production refuses to start) the API is
open and says so loudly at start.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

log = logging.getLogger(__name__)

BOT_MUTATIONS = frozenset({"upsertUser", "recordTrade", "setTpSl", "syncPositions"})

# Root fields each role may select; None: every field of that operation type.
ROLE_FIELDS: dict[str, dict[str, frozenset[str] | None]] = {
    "admin": {"query": None, "mutation": None},
    "bot": {"query": None, "mutation": BOT_MUTATIONS},
    "ingest": {"query": frozenset(), "mutation": frozenset({"updateMarketPrices"})},
}

# The GraphiQL page itself (a browser's GET for HTML) carries no key; its queries do.
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# GraphiQL's own scripts and styles: public files, fetched by the page without a key.
_GRAPHIQL_ASSETS = "/graphiql/"


def role_of(presented: str, keys: tuple[tuple[str, str], ...]) -> str | None:
    """The role of a presented key, comparing with every key in constant time."""
    found = None
    for role, key in keys:
        if hmac.compare_digest(presented.encode(), key.encode()):
            found = role
    return found


class ApiKeys:
    """ASGI middleware: 401 for /graphql without a known key; the role into scope state."""

    def __init__(self, app: ASGIApp, keys: tuple[tuple[str, str], ...]) -> None:
        self.app = app
        self.keys = keys
        if not keys:
            log.warning(
                "API_KEYS is not set: the API is OPEN to anyone who can reach it. "
                "Only development and test allow this; production refuses to start."
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not self.keys
            or path in _OPEN_PATHS
            or path.startswith(_GRAPHIQL_ASSETS)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        presented = _presented_key(headers)
        role = role_of(presented, self.keys) if presented else None
        if role is None:
            if scope["method"] == "GET" and b"text/html" in headers.get(b"accept", b""):
                await self.app(scope, receive, send)  # the GraphiQL page; its queries need a key
                return
            await _unauthorized(send, "a valid API key" if presented else "an API key")
            return
        state = scope.setdefault("state", {})
        state["role"] = role
        # Rate limits count per key; a digest names it without keeping the secret around.
        state["key_id"] = hashlib.sha256(presented.encode()).hexdigest()[:16]
        await self.app(scope, receive, send)


def _presented_key(headers: dict[bytes, bytes]) -> str:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return headers.get(b"x-api-key", b"").decode("latin-1").strip()


async def _unauthorized(send: Send, wanted: str) -> None:
    body = orjson.dumps(
        {
            "errors": [
                {
                    "message": f"Authentication required: send {wanted} as "
                    "'Authorization: Bearer <key>' or 'X-API-Key'.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="polycool"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RoleCheck(SchemaExtension):
    """Refuses an operation selecting a root field outside the caller's role: nothing runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        role: str | None = getattr(context, "role", None)
        operation = _operation(self.execution_context)
        if role is not None and operation is not None:
            allowed = ROLE_FIELDS[role].get(operation.operation.value, frozenset())
            fields = _root_fields(operation.selection_set, self.execution_context)
            denied = sorted(f for f in fields if allowed is not None and f not in allowed)
            if denied:
                # A result set before execution makes Strawberry skip executing the operation.
                self.execution_context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"Forbidden: the '{role}' key may not run {', '.join(denied)}.",
                            extensions={"code": "FORBIDDEN"},
                        )
                    ],
                )
        yield


def _operation(execution_context: Any) -> OperationDefinitionNode | None:
    document = execution_context.graphql_document
    name = execution_context.operation_name
    for definition in document.definitions if document else ():
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition
    return None


def _root_fields(selection_set: SelectionSetNode, execution_context: Any) -> set[str]:
    """Root field names, through inline fragments and fragment spreads; __typename is free."""
    fragments = {
        d.name.value: d
        for d in execution_context.graphql_document.definitions
        if d.kind == "fragment_definition"
    }
    names: set[str] = set()
    pending = [selection_set]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value != "__typename":
                    names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if selection.name.value in fragments:
                    pending.append(fragments[selection.name.value].selection_set)
    return names
