"""The GraphQL endpoint: what an HTTP request becomes, and what the client gets back.

Strawberry's ASGI view, whose HTTP path (`run`) is ours and reads in order: the request is
parsed once; a query's kept answer (cache/answers.py) is looked up and, when nothing it read
has changed, sent as it was stored, before any Context is built or anything executed; a
persisted query's document is looked up (web/persisted_queries.py); the operation executes with
a fresh Context and loaders; a query that executed without errors leaves its answer for the
next identical request; errors are shaped (web/shaping.py); the response is encoded (orjson).

GraphQL over HTTP as its spec says: `application/graphql-response+json` when the client accepts
it, with 400 for a request that could not be executed (parse, validation, variables) and 403 for
one its key may not run; plain `application/json` keeps 200 for every GraphQL answer, as older
clients expect. GET runs queries only (405 for a mutation); a POST body that is not JSON is 415;
a batch of operations is 400.

WebSocket (the `triggers` subscription): graphql-transport-ws only, through
web/subscriptions.py's handler; a connection's Context carries the process's trigger feed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from cache.answers import Answers, Pending, Question
from cache.read_ahead import ReadAhead
from cache.read_through import CacheSession
from context import Context
from loaders import Loaders
from schema.schema import PolycoolSchema
from settings import Settings
from web.graphiql import Tab, contract_tabs, render_graphiql
from web.persisted_queries import PersistedQueryError, requested_hash, resolve_persisted
from web.shaping import shape_errors
from web.subscriptions import Connections, SubscriptionSocket, TextFrames

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
# The members of a request body: (name, type, what the error calls it).
_MEMBERS = (
    ("query", str, "a string or null"),
    ("operationName", str, "a string or null"),
    ("variables", dict, "an object or null"),
    ("extensions", dict, "an object or null"),
)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SubscriptionSocket
    websocket_adapter_class = TextFrames

    def __init__(self, schema: PolycoolSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # The protocol of the contract only: the legacy graphql-ws one is more to defend.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # A connection that never says who it is does not hold a socket for long.
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.ws_subscriptions_per_connection,
        )
        self.documents = schema.documents
        self.settings = settings
        self.connections = Connections(settings.ws_connections_per_key)
        self.graphiql_tabs: list[Tab] = graphiql_tabs() if settings.graphiql else []

    async def run(  # type: ignore[override]
        self, request: Request | WebSocket, context: Context = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        if not isinstance(request, Request):
            return await super().run(request, context, root_value)
        adapter = self.request_adapter_class(request)
        if not self.is_request_allowed(adapter):
            raise HTTPException(405, "GraphQL only supports GET and POST requests.")
        if self.should_render_graphql_ide(adapter):
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            raise HTTPException(404, "Not Found")
        try:
            data = await self.parse_http_body(adapter)
        except orjson.JSONDecodeError as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        assert isinstance(data, GraphQLRequestData)  # batches are refused while parsing
        request.state.counts.operation = data.operation_name  # for the request's log line
        session = CacheSession(request.app.state.cache)
        debug = self._debug_counts(request)
        answers: Answers | None = request.app.state.answers
        pending: Pending | None = None
        try:
            if answers is not None and (question := self._question(request, data)):
                found = await answers.look_up(session, question)
                if isinstance(found, bytes):
                    return self._answered(request, found, debug)
                pending = found  # None: not worth keeping now (cache/answers.Worth)
            data = await resolve_persisted(session.store, data)
        except PersistedQueryError as error:
            # Apollo's clients look for this answer (200, the code) to send the document.
            body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
            return self._answered(request, orjson.dumps(body), debug=False)
        sub_response = await self.get_sub_response(request)
        context = self._context(request, sub_response, session, debug)
        query = self._is_query(data)
        read_ahead: ReadAhead | None = request.app.state.read_ahead if query else None
        if read_ahead is not None:
            assert data.query is not None  # a query's document
            foreseen = ReadAhead.key(data.query, data.operation_name, data.variables)
            needed: dict[str, None] = {}
            session.ahead, session.needed = read_ahead.foreseen(foreseen), needed
        kept: bytes | None = None
        try:
            if answers is None or pending is None or not query:
                result = await self._execute(adapter, sub_response, context, data)
            else:
                with answers.executing(pending):
                    result = await self._execute(adapter, sub_response, context, data)
                    if not result.errors and result.data is not None:
                        kept = orjson.dumps({"data": result.data})
                        await answers.keep(pending, kept)
                        _show_counts(result, context)
        finally:
            session.count_at_once()
        if read_ahead is not None:
            read_ahead.remember(foreseen, needed)
        if kept is not None and not result.extensions:
            # What process_result and encode_json would make of it, byte for byte: the answer
            # just kept, encoded once instead of twice.
            return self.create_response({"data": result.data}, sub_response, encoded=kept)
        return self.create_response(await self.process_result(request, result), sub_response)

    async def _execute(
        self,
        adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        data: GraphQLRequestData,
    ) -> ExecutionResult:
        request = context.request
        assert isinstance(request, Request)  # the HTTP path's context
        if data.query is not None and (
            self.documents.operation_type(data.query, data.operation_name)
            is OperationType.SUBSCRIPTION
        ):
            raise HTTPException(
                400, "Subscriptions run over WebSocket (graphql-transport-ws) at this path."
            )
        try:
            return await self.execute_single(request, adapter, sub_response, context, None, data)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError) and adapter.method == "GET":
                raise HTTPException(
                    405, "GET runs queries only: send a mutation by POST."
                ) from error
            raise

    def _context(
        self, request: Request, response: Response, session: CacheSession, debug: bool
    ) -> Context:
        database = request.app.state.database
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            database=database,
            cache=session,
            loaders=Loaders(database, session),
            request_id=request.state.request_id,
            counts=request.state.counts,
            role=getattr(request.state, "role", None),
            debug_counts=debug,
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """A WebSocket connection's context (the HTTP path builds its own in `run`): the role
        is filled in at connection_init (web/subscriptions.py)."""
        state = request.app.state
        session = CacheSession(state.cache)
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            database=state.database,
            cache=session,
            loaders=Loaders(state.database, session),
            request_id=request.state.request_id,
            counts=request.state.counts,
            role=getattr(request.state, "role", None),
            triggers=state.triggers,
        )

    def _debug_counts(self, request: Request) -> bool:
        return (
            self.settings.app_env != "production" and request.headers.get("x-debug-counts") == "1"
        )

    def _question(self, request: Request, data: GraphQLRequestData) -> Question | None:
        """What identifies a query's answer; None for anything else (only queries are kept).

        Sent by hash alone, the kind of operation is unknown until the document is looked up;
        only queries ever leave an answer to find, so the hash is asked for as it is.
        """
        if data.query is not None:
            if not self._is_query(data):
                return None
            document = self.documents.digest(data.query)
        else:
            digest = requested_hash(data)
            if digest is None:
                return None
            document = digest
        role = getattr(request.state, "role", None)
        return Question(document, data.operation_name, data.variables, role)

    def _is_query(self, data: GraphQLRequestData) -> bool:
        query, name = data.query, data.operation_name
        return query is not None and (
            self.documents.operation_type(query, name) is OperationType.QUERY
        )

    def _answered(self, request: Request, body: bytes, debug: bool) -> Response:
        """A response decided before anything executed: a kept answer, or a persisted-query
        error; with what the request cost when it asks (X-Debug-Counts)."""
        if debug:
            answer = orjson.loads(body)
            counts = request.state.counts
            answer["extensions"] = {"counts": {"sql": counts.sql, "redis": counts.redis}}
            body = orjson.dumps(answer)
        media = GRAPHQL_RESPONSE if _wants_graphql_response(request) else "application/json"
        return Response(body, media_type=media)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only a browser asking for a page: a GET with a persisted query's hash (and no
        # document) or a client accepting */* is an operation, not a visit.
        if request.method != "GET":
            return False
        params = request.query_params
        return (
            not params.get("query")
            and not params.get("extensions")
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our files first, the CDN only if they were never built.
        return render_graphiql(tabs=self.graphiql_tabs)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "GET":
            return await super().parse_http_body(request)
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HTTPException(
                415, f"Unsupported Media Type {content_type or '(none)'!r}: send application/json."
            )
        # Strawberry's own parsing, without what this endpoint does not take (multipart, the
        # streaming transports), measured at 8% of a kept answer's time.
        data = self.decode_json(await request.get_body())
        if isinstance(data, list):
            raise HTTPException(400, "Batched requests are not supported: send one operation.")
        if not isinstance(data, dict):
            raise HTTPException(400, "The request body must be a JSON object.")
        for name, kind, called in _MEMBERS:
            if not isinstance(data.get(name), (kind, type(None))):
                raise HTTPException(400, f"The GraphQL operation's `{name}` must be {called}.")
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
            protocol="http",
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request) and _wants_graphql_response(request):
            sub_response.media_type = GRAPHQL_RESPONSE
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = shape_errors(result.errors, request.state.request_id)
        return await super().process_result(request, result)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
        encoded: bytes | None = None,
    ) -> Response:
        """The HTTP response; `encoded`, when given, is `response_data` already encoded (an
        answer with data and no errors)."""
        status = sub_response.status_code or 200
        if (
            encoded is None
            and sub_response.media_type == GRAPHQL_RESPONSE
            and isinstance(response_data, dict)
        ):
            errors: list[dict[str, Any]] = response_data.get("errors") or []  # type: ignore[assignment]
            executed = any("path" in error for error in errors)
            if response_data.get("data") is None and errors and not executed:
                # Nothing was executed: a request error, not a GraphQL answer.
                codes = {(e.get("extensions") or {}).get("code") for e in errors}
                status = 403 if "FORBIDDEN" in codes else 400
                response_data.pop("data", None)
        response = Response(
            encoded if encoded is not None else self.encode_json(response_data),
            status_code=status,
            media_type=sub_response.media_type or "application/json",
        )
        response.headers.update(
            {
                k: v
                for k, v in sub_response.headers.items()
                if k not in ("content-type", "content-length")
            }
        )
        if sub_response.background:
            response.background = sub_response.background
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def graphiql_tabs() -> list[Tab]:
    """The contract's operations with the demo user's variables (once, at start)."""
    from seed.demo import demo_user, demo_variables  # the snapshot is read only for GraphiQL

    try:
        variables = demo_variables(demo_user())
    except (OSError, ValueError) as error:  # no snapshot: the tabs, without variables
        log.warning("GraphiQL's tabs have no demo variables: %s", error)
        variables = {}
    return contract_tabs(variables)


def _show_counts(result: ExecutionResult, context: Context) -> None:
    """DebugCounts read the counts before the answer was kept: show the keep's round trip."""
    shown = (result.extensions or {}).get("counts")
    if isinstance(shown, dict):
        shown.update(sql=context.counts.sql, redis=context.counts.redis)


def _wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")
