"""A resolved leaf (a position's price, value, P&L) is completed in line by the plan: its value
coerced and a null kept where the type allows one; what a plan cannot answer (a null for a
non-null type, an error returned as a value) is left to graphql-core, whose answer it is."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.execution.executor import planned_executor
from schema.execution.plans import Plans
from telemetry.metrics import EXECUTIONS


def nullable(line: strawberry.Parent[Line]) -> int | None:
    return line.stored  # type: ignore[no-any-return]


def required(line: strawberry.Parent[Line]) -> int:
    return line.stored  # type: ignore[no-any-return]


@strawberry.type
class Line:
    name: str
    # What both resolvers return, whatever their types say.
    stored: strawberry.Private[Any]
    nullable: int | None = strawberry.field(resolver=nullable)
    required: int = strawberry.field(resolver=required)


LINES: list[Line] = []


@strawberry.type
class Query:
    @strawberry.field
    def lines(self) -> list[Line | None]:
        return list(LINES)


async def answered(planned: bool, query: str) -> tuple[Any, list[tuple[str, Any]]]:
    schema = strawberry.Schema(
        query=Query, execution_context_class=planned_executor(Plans(4)) if planned else None
    )
    result = await schema.execute(query)
    return result.data, [(error.message, error.path) for error in result.errors or []]


async def through_both(query: str, path: str) -> tuple[Any, Any]:
    """The planned executor's answer and graphql-core's; the planned one came by `path`."""
    before = EXECUTIONS.labels(path)._value.get()
    planned = await answered(True, query)
    assert EXECUTIONS.labels(path)._value.get() == before + 1
    return planned, await answered(False, query)


async def test_values_and_allowed_nulls_are_the_plans_answer() -> None:
    LINES[:] = [Line(name="a", stored=5), Line(name="b", stored=None)]
    planned, core = await through_both("{ lines { name nullable } }", "plan")
    assert (
        planned
        == core
        == ({"lines": [{"name": "a", "nullable": 5}, {"name": "b", "nullable": None}]}, [])
    )


async def test_a_null_for_a_non_null_leaf_is_graphql_cores_error() -> None:
    LINES[:] = [Line(name="a", stored=5), Line(name="b", stored=None)]
    planned, core = await through_both("{ lines { name required } }", "dropped")
    assert planned == core
    data, errors = planned
    assert data == {"lines": [{"name": "a", "required": 5}, None]}
    assert errors == [
        ("Cannot return null for non-nullable field Line.required.", ["lines", 1, "required"])
    ]


async def test_an_error_returned_as_a_value_is_graphql_cores_error() -> None:
    LINES[:] = [Line(name="a", stored=ValueError("no price"))]
    planned, core = await through_both("{ lines { name nullable } }", "dropped")
    assert planned == core
    assert planned == (
        {"lines": [{"name": "a", "nullable": None}]},
        [("no price", ["lines", 0, "nullable"])],
    )
