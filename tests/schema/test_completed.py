"""Completed: the own parts of objects' answers, kept by plan and object, bounded, oldest out."""

from __future__ import annotations

from typing import Any

from schema.execution.executor import Completed
from schema.execution.plans import ObjectPlan


def counting() -> tuple[list[object], Any]:
    calls: list[object] = []

    def complete(plan: ObjectPlan, source: object) -> dict[str, Any]:
        calls.append(source)
        return {"of": id(source)}

    return calls, complete


def test_an_object_is_completed_once_per_plan_and_its_answer_shared() -> None:
    memo = Completed(size=10)
    plan, other_plan = object.__new__(ObjectPlan), object.__new__(ObjectPlan)
    source = object()
    calls, complete = counting()
    first = memo.get(plan, source, complete)
    assert memo.get(plan, source, complete) is first
    memo.get(other_plan, source, complete)
    assert calls == [source, source]


def test_once_full_the_oldest_object_leaves_first() -> None:
    memo = Completed(size=3)
    plan = object.__new__(ObjectPlan)
    sources = [object() for _ in range(5)]
    calls, complete = counting()
    for source in sources:
        memo.get(plan, source, complete)
    calls.clear()
    # Bounded at 3: the last three are kept, the first two were evicted in order.
    for source in reversed(sources):
        memo.get(plan, source, complete)
    assert calls == [sources[1], sources[0]]
