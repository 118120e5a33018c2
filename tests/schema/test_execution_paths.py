"""Plans against graphql-core: the same request gives the same bytes through either executor.

Two apps on the same database, one with EXECUTION_PLANS on and one with it off (each with its own
Redis prefix, no kept answers, so both execute every request). Every query of the contract, and
documents generated from the schema (aliases, repeated fields merged, inline and named fragments,
@include/@skip with literals and variables, arguments as literals and variables, unknown and
malformed ids, arguments the resolvers refuse, so errors and their propagation to the nearest
nullable parent), must answer byte for byte the same: status, content type and body. Each test
also checks which executor ran, so that it cannot pass with both apps on graphql-core.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
)
from graphql.execution.values import VariableValues
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st

from schema.execution import plans
from schema.schema import build_schema
from settings import Settings
from telemetry.metrics import EXECUTIONS
from tests.conftest import contract_documents, serving, unique_prefix

SCHEMA: GraphQLSchema = build_schema()._schema
# Objects nest at most this deep below Query (Query > user > positions > market).
DEPTH = 3


@dataclass
class Request:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    operation: str | None = None


@dataclass
class Pair:
    """The two executors, side by side."""

    planned: httpx.AsyncClient
    core: httpx.AsyncClient

    async def differences(self, request: Request) -> list[str]:
        """What differs between the two answers (nothing, when the plans are right)."""
        body = {
            "query": request.query,
            "variables": request.variables,
            "operationName": request.operation,
        }
        headers = {"Accept": "application/graphql-response+json"}
        planned = await self.planned.post("/graphql", json=body, headers=headers)
        core = await self.core.post("/graphql", json=body, headers=headers)
        found = []
        if planned.status_code != core.status_code:
            found.append(f"status {planned.status_code} != {core.status_code}")
        if planned.headers["content-type"] != core.headers["content-type"]:
            found.append("content type")
        if planned.content != core.content:
            found.append(f"body:\n  plans:        {planned.text}\n  graphql-core: {core.text}")
        return found


def executions() -> Counter[str]:
    return Counter(
        {
            sample.labels["path"]: sample.value
            for metric in EXECUTIONS.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }
    )


@pytest.fixture(scope="module")
async def pair(settings: Settings, seeded: str) -> AsyncIterator[Pair]:
    both = [
        settings.replace(cache_prefix=unique_prefix(), answer_cache=False, execution_plans=plans)
        for plans in (True, False)
    ]
    async with AsyncExitStack() as stack:
        planned, core = [await stack.enter_async_context(serving(s)) for s in both]
        yield Pair(planned, core)


@dataclass(frozen=True)
class Values:
    """Ids of rows the seeded database holds, and ids it does not."""

    telegram_ids: list[str]
    position_ids: list[str]
    market_ids: list[str]
    token_ids: list[str]
    condition_ids: list[str]


@pytest.fixture(scope="module")
async def values(seeded: str) -> Values:
    db = await asyncpg.connect(seeded)
    try:
        users = await db.fetch(
            """
            SELECT u.telegram_id FROM app_user u JOIN position p ON p.user_id = u.id
            GROUP BY u.id HAVING count(DISTINCT p.status) = 2 ORDER BY count(*) DESC LIMIT 2
            """
        )
        positions = await db.fetch("SELECT id FROM position ORDER BY id LIMIT 3")
        markets = await db.fetch(
            "SELECT id, clob_token_ids[1] AS token, condition_id FROM market"
            " WHERE active ORDER BY volume DESC LIMIT 3"
        )
    finally:
        await db.close()
    return Values(
        telegram_ids=[str(u["telegram_id"]) for u in users] + ["999999999", "not-a-number"],
        position_ids=[str(p["id"]) for p in positions] + ["999999999", "x"],
        market_ids=[m["id"] for m in markets] + ["no-such-market"],
        token_ids=[m["token"] for m in markets] + ["no-such-token"],
        condition_ids=[m["condition_id"] for m in markets] + ["0xdead"],
    )


async def test_every_contract_query_answers_the_same(pair: Pair, values: Values) -> None:
    variables: dict[str, dict[str, Any]] = {
        "Portfolio": {"telegramId": values.telegram_ids[0]},
        "PositionHistory": {"telegramId": values.telegram_ids[0]},
        "PositionDetail": {"id": values.position_ids[0]},
        "MarketsBatch": {"ids": [*values.market_ids, values.market_ids[0]]},
        "MarketByToken": {"tokenId": values.token_ids[0]},
        "MarketByCondition": {"conditionId": values.condition_ids[0]},
        "TrendingMarkets": {"first": 5},
        "SearchMarkets": {"text": "will", "first": 5},
        "Claimable": {"telegramId": values.telegram_ids[0]},
        "TradeHistory": {"telegramId": values.telegram_ids[0], "first": 5},
        "SmartTrades": {"first": 5, "minValue": "0", "minWinRate": "0"},
        "Leaderboard": {"by": "WIN_RATE", "first": 5},
    }
    document = parse(contract_documents())
    queries = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and d.operation is OperationType.QUERY
        and d.name is not None
    ]
    assert sorted(queries) == sorted(variables)
    before = executions()
    for name, given_variables in variables.items():
        request = Request(contract_documents(), given_variables, name)
        assert await pair.differences(request) == [], name
    ran = executions() - before
    # Every contract query ran by its plan (the other app has none), and none was dropped.
    assert ran == Counter({"plan": len(variables)}), ran


async def test_errors_are_graphql_cores_own(pair: Pair) -> None:
    """A refused argument under a non-null root field: the plan is dropped, graphql-core
    answers with the error, its path and data null."""
    before = executions()
    request = Request(
        '{ a: trendingMarkets(first: 0) { edges { cursor } } b: market(id: "x") { id } }'
    )
    assert await pair.differences(request) == []
    answer = (await pair.planned.post("/graphql", json={"query": request.query})).json()
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["a"]
    assert (executions() - before)["dropped"] == 2


async def test_the_comparison_sees_a_wrong_plan(
    pair: Pair, values: Values, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: plans that answer under the field's name instead of its alias are caught."""
    real = plans._Compiler._field

    def by_name(self: Any, parent: Any, key: str, details: Any) -> Any:
        return real(self, parent, details[0].node.name.value, details)

    monkeypatch.setattr(plans._Compiler, "_field", by_name)
    query = "query Aliased($t: ID!) { u: user(telegramId: $t) { name: username } }"
    found = await pair.differences(Request(query, {"t": values.telegram_ids[0]}))
    assert found
    assert "body" in found[0]


def test_only_queries_have_plans() -> None:
    """Mutations run their root fields one after the other, and introspection is
    graphql-core's own: neither has a plan."""
    document = parse(
        'mutation { upsertUser(input: {telegramId: "1"}) { id } }'
        " query { __schema { queryType { name } } }"
    )
    kept = plans.Plans(size=4)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    empty = VariableValues({}, {})
    assert [kept.find(SCHEMA, op, {}, empty) for op in operations] == [None, None]


# Generated documents ----------------------------------------------------------------------------


def _argument_values(values: Values) -> dict[tuple[str, str], st.SearchStrategy[Any]]:
    """For each argument, values that find something, find nothing, or are refused."""
    ids = st.sampled_from(values.market_ids)
    return {
        ("user", "telegramId"): st.sampled_from(values.telegram_ids),
        ("position", "id"): st.sampled_from(values.position_ids),
        ("markets", "ids"): st.lists(ids, max_size=4),
        ("market", "id"): ids,
        ("marketByToken", "tokenId"): st.sampled_from(values.token_ids),
        ("marketByCondition", "conditionId"): st.sampled_from(values.condition_ids),
        ("trendingMarkets", "first"): st.sampled_from([1, 3, 0, 101]),
        ("trendingMarkets", "after"): st.sampled_from([None, "not-a-cursor"]),
        ("searchMarkets", "text"): st.sampled_from(["will", "Trump win", ""]),
        ("searchMarkets", "first"): st.sampled_from([1, 2, 0, 51]),
        ("positions", "status"): st.sampled_from([None, "ACTIVE", "CLOSED"]),
        ("trades", "first"): st.sampled_from([1, 3, 0, 101]),
        ("trades", "after"): st.sampled_from([None, "not-a-cursor"]),
        ("smartTrades", "first"): st.sampled_from([1, 3, 0, 101]),
        ("smartTrades", "after"): st.sampled_from([None, "not-a-cursor"]),
        ("smartTrades", "minValue"): st.sampled_from([None, "0", "300", "NaN"]),
        ("smartTrades", "minWinRate"): st.sampled_from([None, "0", "0.9"]),
        ("leaderboard", "by"): st.sampled_from(["SMARTSCORE", "WIN_RATE", "REALIZED_PNL"]),
        ("leaderboard", "first"): st.sampled_from([1, 3, 0, 101]),
    }


def _literal(value: Any, enum: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item, enum) for item in value) + "]"
    if enum or isinstance(value, int):
        return str(value)
    return json.dumps(value)


@st.composite
def generated(draw: st.DrawFn, values: Values) -> Request:
    arguments = _argument_values(values)
    variables: dict[str, Any] = {}
    declared: dict[str, str] = {}
    fragments: list[str] = []

    def variable(type_name: str, value: Any) -> str:
        name = f"v{len(variables)}"
        variables[name] = value
        declared[name] = type_name
        return f"${name}"

    def condition() -> str:
        kind = draw(st.sampled_from(["", "", "", "include", "skip", "variable"]))
        if kind == "variable":
            directive = draw(st.sampled_from(["include", "skip"]))
            return f" @{directive}(if: {variable('Boolean!', draw(st.booleans()))})"
        if kind:
            return f" @{kind}(if: {'true' if draw(st.booleans()) else 'false'})"
        return ""

    def selection(parent: GraphQLObjectType, depth: int) -> str:
        names = [
            name
            for name, definition in parent.fields.items()
            if depth < DEPTH or not isinstance(get_named_type(definition.type), GraphQLObjectType)
        ]
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5))
        parts: list[str] = []
        seen: set[str] = set()
        for index, name in enumerate(chosen):
            definition = parent.fields[name]
            given_arguments = []
            for argument_name, argument in definition.args.items():
                strategy = arguments[(name, argument_name)]
                value = draw(strategy)
                optional = value is None and not isinstance(argument.type, GraphQLNonNull)
                if optional and draw(st.booleans()):
                    continue  # left out: its default
                enum = str(get_named_type(argument.type)) in ("PositionStatus", "LeaderboardOrder")
                if draw(st.booleans()):
                    text = variable(str(argument.type), value)
                else:
                    text = _literal(value, enum)
                given_arguments.append(f"{argument_name}: {text}")
            # Arguments make a field different: a repeat of it needs its own response key.
            aliased = (name in seen and bool(definition.args)) or draw(st.booleans())
            seen.add(name)
            text = f"a{index}: {name}" if aliased else name
            if given_arguments:
                text += "(" + ", ".join(given_arguments) + ")"
            text += condition()
            named = get_named_type(definition.type)
            if isinstance(named, GraphQLObjectType):
                text += " { " + selection(named, depth + 1) + " }"
            wrap = draw(st.sampled_from(["", "", "inline", "fragment"]))
            if wrap == "inline":
                text = f"... on {parent.name}{condition()} {{ {text} }}"
            elif wrap == "fragment":
                fragment = f"F{len(fragments)}"
                fragments.append(f"fragment {fragment} on {parent.name} {{ {text} }}")
                text = f"...{fragment}{condition()}"
            parts.append(text)
        if draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), "__typename")
        return " ".join(parts)

    query_type = SCHEMA.query_type
    assert query_type is not None
    body = selection(query_type, 0)
    signature = ", ".join(f"${name}: {type_name}" for name, type_name in declared.items())
    header = f"query Generated({signature})" if signature else "query Generated"
    return Request(" ".join([f"{header} {{ {body} }}", *fragments]), variables)


@pytest.fixture(scope="module")
def own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_generated_documents_answer_the_same(
    settings: Settings, values: Values, own_loop: asyncio.AbstractEventLoop
) -> None:
    """Hypothesis drives the documents; the apps run on a loop of this test's own, since
    hypothesis calls the check synchronously."""
    both = [
        settings.replace(cache_prefix=unique_prefix(), answer_cache=False, execution_plans=plans)
        for plans in (True, False)
    ]
    stack = AsyncExitStack()
    planned, core = [
        own_loop.run_until_complete(stack.enter_async_context(serving(s))) for s in both
    ]
    pair = Pair(planned, core)
    before = executions()
    try:

        @run_settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(request=generated(values))
        def check(request: Request) -> None:
            found = own_loop.run_until_complete(pair.differences(request))
            assert found == [], f"{request.query}\n{request.variables}\n" + "\n".join(found)

        check()
    finally:
        own_loop.run_until_complete(stack.aclose())
    ran = executions() - before
    # Most generated documents validate and run: the plans answered most, and met errors in
    # some (an argument the resolvers refuse) and left them to graphql-core.
    assert ran["plan"] > 50, ran
    assert ran["dropped"] >= 1, ran
