"""The GraphQL endpoint: what a request becomes, and what the client gets back.

Strawberry's ASGI view with:
- a typed Context and fresh loaders for every request;
- automatic persisted queries (web/persisted_queries.py) resolved before the document is parsed;
- GraphQL over HTTP as its spec says: `application/graphql-response+json` when the client
  accepts it, with 400 for a request that could not be executed (parse, validation, variables)
  and 403 for one its key may not run; plain `application/json` keeps 200 for every GraphQL
  answer, as older clients expect. GET runs queries only (405 for a mutation); a POST body
  that is not JSON is 415;
- every error shaped by web/shaping.py (codes, masking, request id);
- orjson for encoding and decoding;
- the answer cache (cache/answers.py) asked first for a query: a stored answer whose reads are
  all unchanged is sent as it is, without parsing or executing anything; a query that executed
  without errors leaves its answer for the next identical request.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import lru_cache
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.types import HTTPMethod
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from cache.answers import Answers, Question, document_id
from cache.read_through import CacheSession
from context import Context
from loaders import Loaders
from settings import Settings
from sql.database import Database
from telemetry.metrics import RequestCounts
from web.graphiql import render_graphiql
from web.persisted_queries import PersistedQueryError, resolve_persisted
from web.shaping import shape_errors

GRAPHQL_RESPONSE = "application/graphql-response+json"
# Seconds a request waits for an identical one to finish executing before executing itself.
LEADER_WAIT = 5.0
_OWN_HEADERS = ("content-type", "content-length")


def wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        database: Database = request.app.state.database
        # The session the answer cache asked with: its epoch, and the reads the answer rests on.
        pending: tuple[str, CacheSession] | None = getattr(request.state, "answer", None)
        cache = pending[1] if pending is not None else CacheSession(request.app.state.cache)
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            database=database,
            cache=cache,
            loaders=Loaders.for_request(database, cache),
            request_id=request.state.request_id,
            counts=getattr(request.state, "counts", RequestCounts()),
            role=getattr(request.state, "role", None),
            debug_counts=self.settings.app_env != "production"
            and request.headers.get("x-debug-counts") == "1",
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # Only a browser asking for a page: a GET with a persisted query's hash (and no
        # document) or a client accepting */* is an operation, not a visit.
        params = request.query_params
        return (
            request.method == "GET"
            and not params.get("query")
            and not params.get("extensions")
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return render_graphiql()  # our files first, the CDN only if they were never built

    async def run(  # type: ignore[override]
        self, request: Request, context: Context = UNSET, root_value: None = UNSET
    ) -> Response:
        answers: Answers | None = request.app.state.answers
        question = None if answers is None else await _question(request)
        if answers is not None and question is not None:
            session = CacheSession(request.app.state.cache)
            key = answers.key(question)
            stored = await answers.find(session, key)
            leader = answers.leader(key) if stored is None else None
            if leader is not None:
                # Wait for the identical request executing now, then look again (which checks
                # every version anew); past the wait, or if it kept nothing, execute.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(leader), LEADER_WAIT)
                stored = await answers.find(session, key)
            if stored is not None:
                return self._answered(request, question, stored)
            request.state.answer = (key, session)
            with answers.leading(key):
                return await self._run(request, context, root_value)
        return await self._run(request, context, root_value)

    async def _run(self, request: Request, context: Context, root_value: None) -> Response:
        try:
            return await super().run(request, context, root_value)
        except PersistedQueryError as error:
            # Apollo's clients look for this answer (200, the code) to send the document.
            body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
            media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
            return Response(orjson.dumps(body), media_type=media)

    def _answered(self, request: Request, question: Question, body: bytes) -> Response:
        counts: RequestCounts = request.state.counts
        counts.operation = question.operation
        if self.settings.app_env != "production" and request.headers.get("x-debug-counts") == "1":
            answer = orjson.loads(body)
            answer["extensions"] = {"counts": {"sql": counts.sql, "redis": counts.redis}}
            body = orjson.dumps(answer)
        media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
        return Response(body, media_type=media)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if request.method == "POST" and content_type != "application/json":
            raise HTTPException(
                415, f"Unsupported Media Type {content_type or '(none)'!r}: send application/json."
            )
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            raise HTTPException(400, "Batched requests are not supported: send one operation.")
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        request_data = await resolve_persisted(request.app.state.cache, request_data)
        context.counts.operation = request_data.operation_name  # for the request's log line
        if request_data.query is None or not _is_query(
            request_data.query, request_data.operation_name
        ):
            request.state.answer = None  # sent by hash, and not a query after all
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                method: HTTPMethod = request_adapter.method
                if method == "GET":
                    raise HTTPException(
                        405, "GET runs queries only: send a mutation by POST."
                    ) from error
            raise

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # process_result decides status and media type; create_response applies them.
        request.state.sub_response = sub_response
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = shape_errors(result.errors, request.state.request_id)
        response = await super().process_result(request, result)
        pending: tuple[str, CacheSession] | None = getattr(request.state, "answer", None)
        if pending is not None and not result.errors and result.data is not None:
            key, session = pending
            await request.app.state.answers.keep(session, key, orjson.dumps({"data": result.data}))
            shown = (response.get("extensions") or {}).get("counts")
            if isinstance(shown, dict):  # DebugCounts read them before the answer was kept
                counts: RequestCounts = request.state.counts
                shown.update(sql=counts.sql, redis=counts.redis)
        if wants_graphql_response(request):
            sub_response: Response = request.state.sub_response
            sub_response.media_type = GRAPHQL_RESPONSE
            if result.data is None and result.errors and all(e.path is None for e in result.errors):
                # Nothing was executed: a request error, not a GraphQL answer.
                codes = {(e.extensions or {}).get("code") for e in result.errors}
                sub_response.status_code = 403 if "FORBIDDEN" in codes else 400
                response.pop("data", None)
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or 200,
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


async def _question(request: Request) -> Question | None:
    """What identifies a query's answer, or None for anything the answer cache leaves alone
    (mutations, bodies that are not a JSON object, documents that do not parse)."""
    data: Any
    if request.method == "GET":
        params = request.query_params
        try:
            data = {
                "query": params.get("query"),
                "operationName": params.get("operationName"),
                "variables": orjson.loads(params["variables"]) if "variables" in params else None,
                "extensions": orjson.loads(params["extensions"])
                if "extensions" in params
                else None,
            }
        except orjson.JSONDecodeError:
            return None
    elif _media_type(request) == "application/json":
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
    else:
        return None
    if not isinstance(data, dict):
        return None
    query, operation = data.get("query"), data.get("operationName")
    if operation is not None and not isinstance(operation, str):
        return None
    if isinstance(query, str):
        if not _is_query(query, operation):
            return None
        document = document_id(query)
    else:
        # By hash alone: the kind of operation is unknown until the document is looked up,
        # and only queries ever leave an answer to find.
        persisted = (data.get("extensions") or {}).get("persistedQuery")
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(digest, str) or len(digest) != 64:
            return None
        document = digest.lower()
    role = getattr(request.state, "role", None)
    return Question(document, operation, data.get("variables"), role)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@lru_cache(maxsize=512)
def _is_query(document: str, operation: str | None) -> bool:
    """Whether the operation the request names (or the only one) is a query."""
    try:
        parsed = parse(document, no_location=True)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [d for d in operations if operation is None or (d.name and d.name.value == operation)]
    return len(chosen) == 1 and chosen[0].operation == OperationType.QUERY
