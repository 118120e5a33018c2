"""A request's objects are freed when it ends, by reference counting alone.

One reference cycle anywhere in a request's graph (its context, loaders, cache session,
executor) leaves all of it, every future and value its loaders hold, to Python's cyclic garbage
collector, whose full collections scan the whole heap: in the live-price workload they were a
tenth of the service's CPU and the 30 ms pauses behind its p95 (docs/benchmarks.md, "Issue 11:
garbage"). Each request here runs with the collector off; what of ours `gc.collect()` then finds
unreachable is what a cycle held. The control runs graphql-core's own helpers, bound methods of
the executor kept on it (schema/execution/executor.py), and finds the whole request.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from cache.read_through import CacheSession
from context import Context
from loaders import Loaders
from schema.execution.executor import AcyclicExecutor
from settings import Settings
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()
OURS = (Context, Loaders, CacheSession, AcyclicExecutor)


async def left_to_the_collector(gql: GraphQLClient, operation: str, variables: Any) -> set[str]:
    """The types of ours that one request left in reference cycles."""
    gc.collect()
    gc.disable()
    try:
        answer = await gql(DOCUMENTS, variables, operation)
        assert answer.errors == []
        assert answer.data is not None
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collection finds stays in gc.garbage
        gc.collect()
        return {type(found).__name__ for found in gc.garbage if isinstance(found, OURS)}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("control", [False, True], ids=["weak-helpers", "control"])
@pytest.mark.parametrize(
    ("operation", "plans"),
    [("Portfolio", True), ("Portfolio", False), ("UpsertUser", True)],
    ids=["query-by-plan", "query-by-graphql-core", "mutation"],
)
async def test_a_request_leaves_nothing_to_the_cyclic_collector(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    plans: bool,
    control: bool,
) -> None:
    if control:
        monkeypatch.setattr(
            AcyclicExecutor, "__init__", StrawberryGraphQLCoreExecutionContext.__init__
        )
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 5)
    variables = (
        {"telegramId": telegram_id}
        if operation == "Portfolio"
        else {"input": {"telegramId": telegram_id, "username": "garbage_free"}}
    )
    # Kept answers off: every request executes (a kept answer executes nothing).
    executing = settings.replace(
        cache_prefix=unique_prefix(), answer_cache=False, execution_plans=plans
    )
    async with serving(executing) as http:
        gql = GraphQLClient(http)
        cold = await left_to_the_collector(gql, operation, variables)
        warm = await left_to_the_collector(gql, operation, variables)
    if control:
        assert {"Context", "Loaders", "CacheSession"} <= cold & warm
        assert {"PlannedExecutor" if plans else "AcyclicExecutor"} <= cold & warm
    else:
        assert (cold, warm) == (set(), set())
