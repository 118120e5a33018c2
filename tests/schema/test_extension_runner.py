"""The schema's extension runner does what Strawberry's does: the same hooks, in the same
order, with the same outcome when a hook or the phase raises; and a real schema's extensions
(the role check, the shared parse) still act through it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.extensions.runner import STRAWBERRY, HookRunner, hook_of

PHASES = ("operation", "parsing", "validation", "executing")


class Boom(Exception):
    pass


def traced(name: str, *, fail_in: str = "", fail_out: str = "", swallow: bool = False) -> type:
    """An extension class whose generator hooks note each step in `context.trace`; it raises
    on entering `fail_in` or on leaving `fail_out`, and swallows what the phase raised when
    `swallow`."""

    def hook(phase: str) -> Any:
        def on(self: SchemaExtension) -> Iterator[None]:
            trace: list[str] = self.execution_context.trace  # type: ignore[attr-defined]
            trace.append(f"{name} enters {phase}")
            if phase == fail_in:
                raise Boom(f"{name} on entering {phase}")
            try:
                yield
            except Boom as error:
                trace.append(f"{name} sees {error}")
                if not swallow:
                    raise
            trace.append(f"{name} leaves {phase}")
            if phase == fail_out:
                raise Boom(f"{name} on leaving {phase}")

        return on

    hooks = {
        "on_operation": hook("operation"),
        "on_parse": hook("parsing"),
        "on_validate": hook("validation"),
        "on_execute": hook("executing"),
    }
    return type(name, (SchemaExtension,), hooks)


class Awaits(SchemaExtension):
    """A coroutine hook: left to Strawberry's own context manager."""

    async def on_execute(self) -> None:  # type: ignore[override]
        self.execution_context.trace.append("Awaits runs")  # type: ignore[attr-defined]


class Context:
    def __init__(self) -> None:
        self.trace: list[str] = []


async def run(
    runner_class: type[SchemaExtensionsRunner],
    classes: list[type],
    body_raises: str,
    *,
    sync: bool = False,
) -> list[str]:
    """Every phase in turn, nested in the operation as Strawberry nests them (entered with
    `with` when `sync`, as `Schema.execute_sync` enters them); what each hook noted and what
    left each phase."""
    context, runner = made(runner_class, classes)
    entered = Synchronously if sync else _as_is
    try:
        async with entered(runner.operation()):
            for phase in PHASES[1:]:
                try:
                    async with entered(getattr(runner, phase)()):
                        body(context, phase, body_raises)
                except Exception as error:
                    context.trace.append(f"{phase} raised {shown(error)}")
    except Exception as error:
        context.trace.append(
            f"operation raised {shown(error)} (context: {shown(error.__context__)})"
        )
    return context.trace


class Synchronously:
    """A phase entered through its `with` protocol only."""

    def __init__(self, phase: Any) -> None:
        self.phase = phase

    async def __aenter__(self) -> None:
        self.phase.__enter__()

    async def __aexit__(self, *raised: Any) -> None:
        self.phase.__exit__(*raised)


def _as_is(phase: Any) -> Any:
    return phase


def made(
    runner_class: type[SchemaExtensionsRunner], classes: list[type]
) -> tuple[Context, SchemaExtensionsRunner]:
    context = Context()
    extensions = [cls() for cls in classes]
    for extension in extensions:
        extension.execution_context = context
    return context, runner_class(execution_context=context, extensions=extensions)  # type: ignore[arg-type]


def shown(error: BaseException | None) -> str:
    """The error as the trace notes it, without the addresses of the objects it names."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(error))


def body(context: Context, phase: str, body_raises: str) -> None:
    context.trace.append(f"body of {phase}")
    if phase == body_raises:
        raise Boom(f"the body of {phase}")


CASES: dict[str, tuple[list[type], str]] = {
    "two hooks, nothing raises": ([traced("A"), traced("B")], ""),
    "one hook": ([traced("A")], ""),
    "the body raises, no hook catches": ([traced("A"), traced("B")], "validation"),
    "the body raises, the inner hook swallows": (
        [traced("A"), traced("B", swallow=True)],
        "executing",
    ),
    "a hook fails on entry": ([traced("A"), traced("B", fail_in="parsing")], ""),
    "a hook fails on exit": ([traced("A"), traced("B", fail_out="validation")], ""),
    "the outer hook fails on exit while the body raises": (
        [traced("A", fail_out="executing"), traced("B")],
        "executing",
    ),
    "the operation's hook fails on exit": ([traced("A", fail_out="operation")], ""),
    "a coroutine hook beside generator hooks": ([traced("A"), Awaits, traced("B")], ""),
    "no hooks": ([SchemaExtension], "parsing"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_the_same_steps_and_outcome_as_strawberrys_runner(case: str) -> None:
    classes, body_raises = CASES[case]
    expected = await run(SchemaExtensionsRunner, classes, body_raises)
    assert await run(HookRunner, classes, body_raises) == expected


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_the_same_when_the_schema_executes_synchronously(case: str) -> None:
    classes, body_raises = CASES[case]
    expected = await run(SchemaExtensionsRunner, classes, body_raises, sync=True)
    assert await run(HookRunner, classes, body_raises, sync=True) == expected


def test_hooks_are_sorted_once_per_class() -> None:
    assert hook_of(SchemaExtension, "on_parse") is None
    assert hook_of(Awaits, "on_execute") is STRAWBERRY
    made = hook_of(traced("C"), "on_validate")
    assert callable(made)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class Refuses(SchemaExtension):
    """Sets a result before execution, as schema/extensions/role_check.py does."""

    def on_execute(self) -> Iterator[None]:
        from graphql import GraphQLError
        from strawberry.types import ExecutionResult

        self.execution_context.result = ExecutionResult(
            data=None, errors=[GraphQLError("Forbidden")]
        )
        yield


class Counts(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        return {"counted": True}


class Quiet(strawberry.Schema):
    def create_extensions_runner(self, execution_context: Any, extensions: Any) -> Any:
        return HookRunner(execution_context=execution_context, extensions=extensions)


async def test_a_schema_through_it_runs_refuses_and_reports() -> None:
    answered = await Quiet(query=Query, extensions=[Counts]).execute("{ hello }")
    assert answered.data == {"hello": "world"}
    assert answered.extensions == {"counted": True}
    refused = await Quiet(query=Query, extensions=[Refuses]).execute("{ hello }")
    assert refused.data is None
    assert [e.message for e in refused.errors or []] == ["Forbidden"]
