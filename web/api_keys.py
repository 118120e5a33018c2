"""Who may call the API: a known API key, or 401 before anything else runs.

Keys come from API_KEYS (role:key pairs) and travel as `Authorization: Bearer <key>` or
`X-API-Key`. A request to /graphql without a known key is refused with 401 here; a known key's
role goes into the request's state, and schema/extensions/role_check.py refuses an operation
outside that role before it executes. With no keys configured (development and test only;
production refuses to start) the API is open and says so loudly at start.

A WebSocket (the subscriptions) is no way around it: a key in the upgrade request's headers is
checked here, and an unknown one refused before the connection is accepted (HTTP 403); a
connection without one is let through to the view, which requires the key in connection_init's
payload before anything runs (web/subscriptions.py), since browsers cannot set headers on a
WebSocket.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

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
        if scope["type"] == "websocket" and self.keys:
            await self._websocket(scope, receive, send)
            return
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
            response = _unauthorized("a valid API key" if presented else "an API key")
            await response(scope, receive, send)
            return
        admit(scope, role, presented)
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        presented = _presented_key(dict(scope.get("headers") or []))
        if presented:
            role = role_of(presented, self.keys)
            if role is None:
                await send({"type": "websocket.close", "code": 1008, "reason": "Unknown API key"})
                return
            admit(scope, role, presented)
        await self.app(scope, receive, send)


def admit(scope: Scope, role: str, key: str) -> None:
    """A known key's role into the request's state, and the key's digest for the limits."""
    state = scope.setdefault("state", {})
    state["role"] = role
    # Rate limits count per key; a digest names it without keeping the secret around.
    state["key_id"] = hashlib.sha256(key.encode()).hexdigest()[:16]


def key_of_authorization(authorization: str) -> str:
    """The key of an `Authorization: Bearer <key>` value, "" if it holds none."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _presented_key(headers: dict[bytes, bytes]) -> str:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    return (
        key_of_authorization(authorization)
        or headers.get(b"x-api-key", b"").decode("latin-1").strip()
    )


def _unauthorized(wanted: str) -> JSONResponse:
    message = (
        f"Authentication required: send {wanted} as 'Authorization: Bearer <key>' or 'X-API-Key'."
    )
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="polycool"'},
    )
