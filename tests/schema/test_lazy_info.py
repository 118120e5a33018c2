"""A directly called resolver's Info answers as Strawberry's own: made lazily, read the same."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.execution.executor import planned_executor
from schema.execution.plans import Plans
from telemetry.metrics import EXECUTIONS


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def seen(self, info: strawberry.Info) -> str:
        # Everything a resolver may read of its Info, past the context.
        selected = [getattr(field, "name", None) for field in info.selected_fields]
        return (
            f"{info.field_name}|{info.path.as_list()}|{info.context['who']}|{selected}|"
            f"{info.python_name}|{info.return_type}|{info.operation.name}|"
            f"{info.variable_values}|{self.name}"
        )


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a"), Item(name="b")]


QUERY = "query Seen($n: Boolean!) { items { name first: seen again: seen @include(if: $n) } }"


async def run(planned: bool) -> Any:
    schema = strawberry.Schema(
        query=Query,
        execution_context_class=planned_executor(Plans(4)) if planned else None,
    )
    result = await schema.execute(
        QUERY, context_value={"who": "bot"}, variable_values={"n": True}, operation_name="Seen"
    )
    assert result.errors is None
    return result.data


async def test_a_resolver_reading_its_whole_info_sees_the_same_through_a_plan() -> None:
    before = EXECUTIONS.labels("plan")._value.get()
    planned, core = await run(planned=True), await run(planned=False)
    assert EXECUTIONS.labels("plan")._value.get() == before + 1  # the plan answered
    assert planned == core
    assert planned["items"][1]["again"].startswith("seen|['items', 1, 'again']|bot|")
