"""A resolver's coroutine is started where its field is read, and only one that waits is gathered.

graphql-core makes a task of every awaitable field, and asyncio.gather one of every awaitable
it is given: a pass through the event loop each, even for a coroutine that never waits (a
loader answering at once from what the request read ahead). The planned executor starts each
coroutine itself (`send(None)`, as Python 3.12's eager tasks do) and completes it in place
when it returns; one that waits is resumed later by the task that awaits it
(schema/execution/executor.py, `_resumed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from schema.execution import executor
from schema.execution.executor import _continued, _resumed
from settings import Settings
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


async def waits_for(future: asyncio.Future[int], log: list[str]) -> int:
    try:
        return await future + 1
    except asyncio.CancelledError:
        log.append("cancelled inside")
        raise


def started(coroutine: Any) -> Any:
    """What the executor does with a field's coroutine: its first step, here."""
    return coroutine.send(None)


async def test_siblings_started_on_one_pending_future_both_get_its_value() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    first, second = waits_for(future, []), waits_for(future, [])
    resumed = [_resumed(first, started(first))]
    resumed.append(_resumed(second, started(second)))  # the same future, awaited again
    asyncio.get_running_loop().call_soon(future.set_result, 41)
    assert await asyncio.gather(*resumed) == [42, 42]


async def test_the_control_leaving_the_first_mark_fails_the_second_sibling() -> None:
    # Without taking off the mark the first coroutine left on the future (no task holds it
    # yet), the second finds the future "awaited" by nobody and fails: what the executor hit
    # when Portfolio's `portfolio` and `positions` waited for the same list.
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    first, second = waits_for(future, []), waits_for(future, [])
    kept = _continued(first, started(first), None)
    with pytest.raises(RuntimeError, match="await wasn't used with future"):
        started(second)
    future.set_result(0)
    assert await kept == 1
    second.close()


async def test_a_cancelled_task_cancels_the_coroutine_it_resumes() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    coroutine = waits_for(future, log)
    task = asyncio.ensure_future(_resumed(coroutine, started(coroutine)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["cancelled inside"]


def never_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: every coroutine handed over unstarted, as graphql-core would."""

    class Unstartable:
        pass

    monkeypatch.setattr(executor, "CoroutineType", Unstartable)


@pytest.mark.parametrize("count", [1, 30])
async def test_a_repeated_portfolio_makes_no_task_for_fields_answered_at_once(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    count: int,
) -> None:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    variables = {"telegramId": telegram_id}
    loop = asyncio.get_running_loop()
    tasks: dict[bool, int] = {}
    answers: dict[bool, Any] = {}
    for eager in (True, False):
        if not eager:
            never_started(monkeypatch)
        quiet = settings.replace(
            cache_prefix=unique_prefix(), answer_cache=False, execution_plans=True
        )
        async with serving(quiet) as http:
            gql = GraphQLClient(http)
            await gql(DOCUMENTS, variables, "Portfolio")
            made = 0

            def counting(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> Any:
                nonlocal made
                made += 1
                return asyncio.Task(coro, loop=loop, **options)

            loop.set_task_factory(counting)
            try:
                repeat = await gql(DOCUMENTS, variables, "Portfolio")
            finally:
                loop.set_task_factory(None)
        assert repeat.errors == []
        assert (repeat.sql, repeat.redis) == (0, 1)
        tasks[eager], answers[eager] = made, repeat.data
    assert answers[True] == answers[False]
    # `portfolio` and `positions` answer at once (their list and markets were read ahead): no
    # gather of the two. Whatever the number of positions.
    assert tasks[False] - tasks[True] == 2, tasks
