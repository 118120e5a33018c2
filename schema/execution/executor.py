"""The executor: a query's plan (schema/execution/plans.py) walked over what the resolvers return.

graphql-core's Executor, which Strawberry builds for every operation, with one method replaced:
when the operation has a plan, its fields are read straight from the plan (an attribute for a
basic field, the field's own resolver, through Strawberry's wrapper, for the others) and their
values completed as the plan says, with the same coercions graphql-core calls. Everything around
execution stays Strawberry's and graphql-core's: parsing, validation, variables, the extensions,
the resolvers and their arguments, error masking and codes.

Only answers without errors come from a plan. A resolver raising, a null for a non-null field,
a value a type refuses: the plan is dropped and graphql-core executes the operation from the
start, on this executor, so every error, its path and its propagation are graphql-core's. Only
queries have plans, and a query reads: running its resolvers again changes nothing. It runs on
new loaders, as a request that loaded nothing would (which errors graphql-core lists depends on
when each load finishes); the data it reads again is in Redis by then. Concurrency is
graphql-core's: a field or list item that returns an awaitable is gathered with its siblings,
so a list's loader calls still make one batch. But a resolver's coroutine is started where its
field is read (as Python 3.12's eager tasks start theirs): one that returns without waiting (a
loader answering at once, loaders/cached_loader.py) is completed in place, with no task and no
pass through the event loop; one that waits is gathered as before and resumed where it stopped
(`_resumed`). Its loads were queued in the same tick either way, so the batches are the same.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from types import CoroutineType, GeneratorType, coroutine
from typing import Any, TypeGuard, cast

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, is_iterable
from graphql.pyutils.undefined import Undefined
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution.plans import Leaf, ListOf, NonNull, ObjectPlan, Plans
from telemetry.metrics import execution_path


class _Dropped(Exception):
    """The plan cannot give graphql-core's answer (an error would be part of it)."""


class Completed:
    """The own part of objects' answers (plans.py, ObjectPlan.own), kept by plan and object.

    Under a plan, the fields an object answers from its attributes alone (__typename, and
    attributes with no resolver at or below them) make a part of its answer that depends on the
    object only. The loaders hand out the same object for the same cached bytes
    (loaders/cached_loader.py's Built) and nothing changes it, so a market or a position read
    again, by this request or the next, has that part completed once: a MarketsBatch of 100
    markets is 700 fields; a Portfolio's positions are read again while their list is
    unchanged, whatever their markets' prices do. The part holds every response key in the
    plan's order (None where the rest goes), so an answer with resolved fields is a copy of it
    with those filled in, and its keys stay in graphql-core's order. Kept with the plan and the
    object, so that their ids stay theirs; bounded, oldest first out. The parts are shared:
    nothing changes them (the executor copies a part before filling it, and the view encodes
    an answer without changing it).

    An OrderedDict, not a dict: once full, every new object evicts the oldest, and a dict's
    first key is found by scanning past every slot deleted since its last resize (6.7 us per
    eviction at 20,000 entries, 15% of a TrendingMarkets request, whose edges are new objects
    each time); OrderedDict.popitem(last=False) is constant time.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[int, int], tuple[ObjectPlan, object, dict[str, Any]]] = (
            OrderedDict()
        )

    def get(
        self,
        plan: ObjectPlan,
        source: object,
        complete: Callable[[ObjectPlan, Any], dict[str, Any]],
    ) -> dict[str, Any]:
        key = (id(plan), id(source))
        kept = self._kept.get(key)
        if kept is not None and kept[0] is plan and kept[1] is source:
            return kept[2]
        answer = complete(plan, source)
        if len(self._kept) >= self.size:
            self._kept.popitem(last=False)
        self._kept[key] = (plan, source, answer)
        return answer


class AcyclicExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with nothing that makes a request's objects a reference cycle.

    graphql-core keeps on the executor the helpers it hands resolvers (info.async_helpers),
    made of the executor's own bound methods: a cycle, through which the whole request (its
    context, loaders, their futures and values, the answer) was left to the cyclic garbage
    collector, 170 objects a Portfolio, and its full collections, which scan every cache of the
    process, were a tenth of the CPU under moving prices and the pauses behind the p95
    (docs/benchmarks.md, "Issue 11: garbage"). Bound through a weak reference, a request is freed
    by reference counting when it ends (tests/schema/test_garbage.py). With or without plans.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _weakly_bound_helpers(self)


class PlannedExecutor(AcyclicExecutor):
    plans: Plans  # set by `planned_executor`, one per schema
    completed: Completed

    def execute_operation(self, serially: bool | None = None) -> Any:
        try:
            plan = self.plans.find(
                self.schema, self.operation, self.fragments, self.variable_values
            )
        except Exception:
            plan = None
        if plan is None:
            execution_path("graphql-core").inc()
            return super().execute_operation(serially)
        try:
            data = self._object(plan, self.root_value, None)
        except Exception:
            return self._without_plan(serially)
        if _is_awaitable(data):
            return self._finish(data, serially)
        execution_path("plan").inc()
        return self.build_response(cast("dict[str, Any]", data))

    async def _finish(self, data: Awaitable[dict[str, Any]], serially: bool | None) -> Any:
        try:
            done = await data
        except Exception:
            result = self._without_plan(serially)
            return await result if self.is_awaitable(result) else result
        execution_path("plan").inc()
        return self.build_response(done)

    def _without_plan(self, serially: bool | None) -> Any:
        execution_path("dropped").inc()
        # graphql-core starts as it would have without the plan: with loaders that hold nothing.
        # Its answer depends on when each resolver raises (once a non-null root field fails,
        # errors of fields still awaiting are not listed), and loads the plan already made
        # would resolve at once instead of after a round trip, listing errors it would not.
        context = self.context_value
        if hasattr(context, "loaders"):
            context.loaders = context.loaders.fresh()
        return super().execute_operation(serially)

    def _object(
        self, plan: ObjectPlan, source: Any, path: Path | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        if not plan.own:
            results: dict[str, Any] = {}
        elif not plan.rest:
            return self.completed.get(plan, source, self._own)
        else:
            results = self.completed.get(plan, source, self._own).copy()
        waiting: list[tuple[str, Awaitable[Any]]] = []
        try:
            self._fields(plan, source, path, results, waiting)
        except Exception:
            # graphql-core's way: what already started settles, unobserved.
            self.settle_in_background([awaitable for _, awaitable in waiting])
            raise
        if not waiting:
            return results
        return self._gathered(results, waiting)

    def _own(self, plan: ObjectPlan, source: Any) -> dict[str, Any]:
        """The object's own part of its answer: every response key, in order, the own fields
        completed and None where the rest's values go."""
        part: dict[str, Any] = {}
        for step in plan.fields:
            key = step.key
            if step.typename is not None:
                part[key] = step.typename
            elif step.attribute is None or step.needs_path:
                part[key] = None
            elif (leaf := step.leaf) is not None:
                value = getattr(source, step.attribute)
                if value is None:
                    if step.non_null:
                        raise _Dropped
                    part[key] = None
                else:
                    coerced = leaf(value)
                    if coerced is None or coerced is Undefined:
                        raise _Dropped
                    part[key] = coerced
            else:  # a list or object of attributes alone: completes at once
                part[key] = self._complete(step.completion, getattr(source, step.attribute), None)
        return part

    def _fields(
        self,
        plan: ObjectPlan,
        source: Any,
        path: Path | None,
        results: dict[str, Any],
        waiting: list[tuple[str, Awaitable[Any]]],
    ) -> None:
        is_awaitable, awaitable_types = _is_awaitable, _AWAITABLE
        parent_type = plan.type
        for step in plan.rest:
            key = step.key
            field_path = Path(path, key, parent_type.name) if step.needs_path else None
            if step.attribute is not None:
                value = getattr(source, step.attribute)
            else:
                definition = step.definition
                assert definition is not None
                assert definition.resolve is not None
                arguments = step.arguments
                if arguments is None:
                    arguments = (
                        get_argument_values(
                            definition,
                            step.nodes[0],
                            self.variable_values,
                            None,
                            self.hide_suggestions,
                        )
                        if step.takes_arguments
                        else _NO_ARGUMENTS
                    )
                if step.call is not None:
                    info_of = partial(self._info, definition, step.nodes, parent_type, path, key)
                    value = step.call(source, info_of, self.context_value, arguments)
                else:
                    if field_path is None:
                        field_path = Path(path, key, parent_type.name)
                    info = self.build_resolve_info(definition, step.nodes, parent_type, field_path)
                    value = definition.resolve(source, info, **arguments)
                # _is_awaitable's look-up in line: a frame less for each resolved field.
                awaitable = awaitable_types.get(type(value))
                if awaitable is None:
                    awaitable = is_awaitable(value)
                if awaitable:
                    if type(value) is CoroutineType:
                        try:
                            yielded = value.send(None)
                        except StopIteration as done:
                            value = done.value  # answered without waiting
                        else:
                            value = _resumed(value, yielded)
                    if is_awaitable(value):
                        results[key] = None
                        waiting.append((key, self._awaited(step.completion, value, field_path)))
                        continue
                if (leaf := step.leaf) is not None:
                    # A resolved leaf (a position's value, P&L...) completed in line, as
                    # _complete would: a call less for each of a Portfolio's hundred.
                    if value is None:
                        if step.non_null:
                            raise _Dropped
                        results[key] = None
                        continue
                    if isinstance(value, Exception):
                        raise _Dropped
                    coerced = leaf(value)
                    if coerced is None or coerced is Undefined:
                        raise _Dropped
                    results[key] = coerced
                    continue
            completed = self._complete(step.completion, value, field_path)
            if is_awaitable(completed):
                waiting.append((key, completed))
            results[key] = completed

    def _info(
        self,
        definition: GraphQLField,
        nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path | None,
        key: str,
    ) -> GraphQLResolveInfo[Any]:
        """A directly called resolver's resolve info, made when its Info is read past its
        context (plans.py, LazyInfo)."""
        return self.build_resolve_info(
            definition, nodes, parent_type, Path(path, key, parent_type.name)
        )

    async def _gathered(
        self, results: dict[str, Any], waiting: list[tuple[str, Awaitable[Any]]]
    ) -> dict[str, Any]:
        if len(waiting) == 1:
            key, awaitable = waiting[0]
            results[key] = await awaitable
            return results
        values = await asyncio.gather(*(a for _, a in waiting), return_exceptions=True)
        for (key, _), value in zip(waiting, values, strict=True):
            if isinstance(value, BaseException):
                raise value
            results[key] = value
        return results

    async def _awaited(self, completion: Any, value: Awaitable[Any], path: Path | None) -> Any:
        completed = self._complete(completion, await value, path)
        if _is_awaitable(completed):
            return await completed
        return completed

    def _complete(self, completion: Any, value: Any, path: Path | None) -> Any:
        if isinstance(completion, NonNull):
            if value is None or isinstance(value, Exception):
                raise _Dropped
            completion = completion.of
        elif value is None:
            return None
        if isinstance(value, Exception):
            raise _Dropped
        if isinstance(completion, Leaf):
            coerced = completion.coerce(value)
            if coerced is None or coerced is Undefined:
                raise _Dropped
            return coerced
        if isinstance(completion, ObjectPlan):
            return self._object(completion, value, path)
        assert isinstance(completion, ListOf)
        return self._list(completion, value, path)

    def _list(
        self, completion: ListOf, value: Any, path: Path | None
    ) -> list[Any] | Awaitable[list[Any]]:
        if type(value) is not list and not is_iterable(value):  # a list, mostly: no ABC check
            raise _Dropped
        item = completion.of
        is_awaitable = _is_awaitable
        if isinstance(item, Leaf) or (isinstance(item, NonNull) and isinstance(item.of, Leaf)):
            return [self._complete(item, element, None) for element in value]
        items: list[Any] = []
        waiting: list[int] = []
        for index, element in enumerate(value):
            if is_awaitable(element):
                raise _Dropped  # awaitable list items: rare, graphql-core's to complete
            completed = self._complete(
                item, element, Path(path, index, None) if completion.paths else None
            )
            if is_awaitable(completed):
                waiting.append(index)
            items.append(completed)
        if not waiting:
            return items
        return self._gathered_items(items, waiting)

    async def _gathered_items(self, items: list[Any], waiting: list[int]) -> list[Any]:
        values = await asyncio.gather(*(items[i] for i in waiting), return_exceptions=True)
        for index, value in zip(waiting, values, strict=True):
            if isinstance(value, BaseException):
                raise value
            items[index] = value
        return items


# Whether values of a type can be awaited, by type: a Portfolio asks a hundred times, mostly of
# Decimals and schema objects, which Strawberry's check answers only after an isinstance pair
# and a failed attribute look-up. `await` reads the type (its slots), so the type decides,
# except for a generator, which is a coroutine only if its code says so.
_AWAITABLE: dict[type, bool] = {}
# A field without arguments passes this (never changed: a resolver gets its own dict).
_NO_ARGUMENTS: dict[str, Any] = {}


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    kind = type(value)
    known = _AWAITABLE.get(kind)
    if known is None:
        if kind is GeneratorType:
            return optimized_is_awaitable(value)
        known = _AWAITABLE[kind] = optimized_is_awaitable(value)
    return known


def _resumed(started: Any, yielded: Any) -> Awaitable[Any]:
    """A coroutine started by hand (`send(None)`) that waits for `yielded`: awaited, it goes
    on where it stopped, as `yield from` would (sends and throws passed through).

    A future the coroutine awaits is marked as waited on by the task that will wait
    (`_asyncio_future_blocking`, which the task clears when it takes the future): held by
    no task yet, the mark is taken off until this is awaited, or the next coroutine awaiting
    the same future (a sibling field's load of the same key) would find it set and fail."""
    blocking = getattr(yielded, "_asyncio_future_blocking", None)
    if blocking:
        yielded._asyncio_future_blocking = False
    return _continued(started, yielded, blocking)


@coroutine
def _continued(started: Any, yielded: Any, blocking: bool | None) -> Any:
    if blocking:
        yielded._asyncio_future_blocking = True
    while True:
        try:
            sent = yield yielded
        except BaseException as error:  # a cancellation, mostly: the coroutine's to handle
            try:
                yielded = started.throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                yielded = started.send(sent)
            except StopIteration as done:
                return done.value


def _weakly_bound_helpers(executor: AcyclicExecutor) -> GraphQLResolveInfoHelpers:
    """graphql-core's helpers for resolvers, holding their executor weakly (it outlives every
    resolver call: it runs them)."""
    reference = weakref.ref(executor)

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        running = reference()
        assert running is not None
        return running.gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        running = reference()
        assert running is not None
        running.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


# Own parts of answers kept (Completed): a few hundred bytes each.
COMPLETED_KEPT = 20_000


def planned_executor(plans: Plans) -> type[PlannedExecutor]:
    """The executor class Strawberry builds per operation, with the schema's plans."""
    attributes = {"plans": plans, "completed": Completed(COMPLETED_KEPT)}
    return type("PlannedExecutor", (PlannedExecutor,), attributes)
