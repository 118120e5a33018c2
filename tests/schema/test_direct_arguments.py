"""A resolver with arguments is called directly by a plan when Strawberry would pass each one
unchanged (scalars and enums): the same values as through Strawberry's wrapper, a variable's
value read for each request, an argument the document writes read once with the plan."""

from __future__ import annotations

import enum
from typing import Any, NewType

import pytest
import strawberry
import strawberry.schema.schema_converter as schema_converter
import strawberry.types.arguments
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig

from schema.execution.executor import planned_executor
from schema.execution.plans import Plans
from telemetry.metrics import EXECUTIONS


@strawberry.enum
class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


@strawberry.input
class Filter:
    shade: Shade


def shown(
    item: strawberry.Parent[Item],
    info: strawberry.Info,
    shade: Shade | None = None,
    times: int = 1,
    label: str | None = "none",
) -> str:
    # The enum member itself, not its value: what Strawberry's conversion hands over.
    kind = "member" if isinstance(shade, Shade) else type(shade).__name__
    return f"{item.name}|{shade}|{kind}|{times}|{label}|{info.context['who']}"


def filtered(item: strawberry.Parent[Item], where: Filter) -> str:
    return f"{item.name}|{where.shade}"


def maybe(item: strawberry.Parent[Item], label: strawberry.Maybe[str]) -> str:
    return f"{item.name}|{label!r}"


Blob = NewType("Blob", object)
BLOB = strawberry.scalar(name="Blob", serialize=lambda v: v, parse_value=lambda v: v)


def blob(item: strawberry.Parent[Item], value: Blob) -> str:
    shown = repr(value)
    value["seen"] = True  # type: ignore[index]  # a resolver changing what it was given
    return f"{item.name}|{shown}"


@strawberry.type
class Item:
    name: str
    shown: str = strawberry.field(resolver=shown)
    filtered: str = strawberry.field(resolver=filtered)
    maybe: str = strawberry.field(resolver=maybe)
    blob: str = strawberry.field(resolver=blob)


def items(first: int) -> list[Item]:
    return [Item(name=name) for name in "abc"[:first]]


@strawberry.type
class Query:
    items: list[Item] = strawberry.field(resolver=items)


def schema(planned: bool, plans: Plans | None = None) -> strawberry.Schema:
    # Parsed once, as the service's documents are: a plan is kept per parsed operation.
    parsed = ParserCache()
    return strawberry.Schema(
        query=Query,
        execution_context_class=planned_executor(plans or Plans(4)) if planned else None,
        extensions=[lambda: parsed],
        config=StrawberryConfig(scalar_map={Blob: BLOB}),
    )


async def answer(schema: strawberry.Schema, query: str, variables: dict[str, Any]) -> Any:
    result = await schema.execute(query, variable_values=variables, context_value={"who": "bot"})
    assert result.errors is None, result.errors
    return result.data


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fields whose arguments Strawberry's wrapper converted."""
    converted: list[str] = []
    # The name Strawberry's field wrapper calls it by.
    convert = strawberry.types.arguments.convert_arguments

    def counted(value: dict[str, Any], arguments: list[Any], *rest: Any, **options: Any) -> Any:
        converted.append(",".join(sorted(value)))
        return convert(value, arguments, *rest, **options)

    monkeypatch.setattr(schema_converter, "convert_arguments", counted)
    return converted


QUERY = """query Shown($shade: Shade, $times: Int!, $n: Int!) {
  items(first: $n) {
    given: shown(shade: $shade, times: $times)
    written: shown(shade: LIGHT, times: 3, label: "x")
    defaults: shown
    nulled: shown(shade: null, label: null)
  }
}"""


async def test_scalar_and_enum_arguments_are_passed_as_strawberry_passes_them(
    conversions: list[str],
) -> None:
    variables = {"shade": "DARK", "times": 2, "n": 2}
    before = EXECUTIONS.labels("plan")._value.get()
    planned = await answer(schema(planned=True), QUERY, variables)
    assert EXECUTIONS.labels("plan")._value.get() == before + 1  # the plan answered
    assert conversions == []  # and no field went through Strawberry's conversion
    core = await answer(schema(planned=False), QUERY, variables)
    assert planned == core
    assert planned["items"][1] == {
        "given": "b|Shade.DARK|member|2|none|bot",
        "written": "b|Shade.LIGHT|member|3|x|bot",
        "defaults": "b|None|NoneType|1|none|bot",
        "nulled": "b|None|NoneType|1|None|bot",
    }


async def test_a_reused_plan_reads_each_requests_variables() -> None:
    plans = Plans(4)
    planned, core = schema(planned=True, plans=plans), schema(planned=False)
    for shade, times in (("DARK", 2), ("LIGHT", 5), (None, 7)):
        variables = {"shade": shade, "times": times, "n": 1}
        first = (await answer(planned, QUERY, variables))["items"][0]
        assert first == (await answer(core, QUERY, variables))["items"][0]
        assert (
            first["given"]
            == f"a|{shade and Shade[shade]}|{'member' if shade else 'NoneType'}|{times}|none|bot"
        )


async def test_input_objects_and_maybe_still_take_strawberrys_conversion(
    conversions: list[str],
) -> None:
    query = '{ items(first: 1) { filtered(where: {shade: DARK}) maybe(label: "y") } }'
    planned = await answer(schema(planned=True), query, {})
    assert sorted(conversions) == ["label", "where"]
    assert planned == await answer(schema(planned=False), query, {})
    assert planned["items"][0] == {"filtered": "a|Shade.DARK", "maybe": "a|Some('y')"}


async def test_a_custom_scalars_literal_is_made_for_each_request() -> None:
    """A literal that is a dict (a custom scalar's) is not one value for every request: a
    resolver changing it does not change the next request's, and a variable inside it is
    read per request."""
    planned = schema(planned=True)
    query = """query Blob($x: Int) {
      items(first: 1) { fixed: blob(value: {a: 1}) held: blob(value: {b: $x}) }
    }"""
    for x in (1, 2):
        first = (await answer(planned, query, {"x": x}))["items"][0]
        assert first == {"fixed": "a|{'a': 1}", "held": f"a|{{'b': {x}}}"}
