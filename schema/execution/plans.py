"""Query plans: a query's fields collected once, with how each is read and how its value completes.

graphql-core collects a selection set's fields for every object it completes (memoised per
request only) and decides, field by field, how to resolve and complete it. The bot sends the
same dozen documents, so a plan does that once per operation: graphql-core's own collect_fields
and collect_subfields do the collecting (fragments, aliases, merging, @skip/@include mean what
they mean there), and each field records its response key, how its value is read, and the
completion of its type: a leaf's coercion, a list, an object's own plan. A value is read in one
of three ways: an attribute (Strawberry's basic field, which Strawberry's own resolver answers
with getattr); a direct call of the resolver function with its parent, Info and arguments, for
resolvers with no field extensions whose arguments are scalars or enums (everything Strawberry's
wrapper would do for them, in a few lines instead of ten calls); else the field's resolver,
wrapper and all. An argument written in the document (`status: ACTIVE`) is read once, with the
plan; one given by a variable, per request.

A plan depends on the variables only through @skip/@include, so plans are kept per operation and
per values of the variables those directives read, in a bounded cache beside the parsed
documents (PARSER_CACHE_SIZE). What a plan does not cover compiles to None and graphql-core runs
it: mutations and subscriptions (their root fields run serially; nothing is gained), introspection
fields, abstract types, types with an is_type_of check, fragment arguments, @defer and @stream.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    ValueNode,
    VariableNode,
    Visitor,
    get_nullable_type,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.relay.types import GlobalID
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

# The key under which Strawberry keeps a GraphQL field's own definition (schema_converter).
STRAWBERRY_FIELD = "strawberry-definition"
# Argument values one dict may hold for every request (Enum: GraphQL enums' members).
_IMMUTABLE = (str, int, float, Decimal, datetime, Enum, type(None))
# Each operation keeps plans for this many combinations of @skip/@include values at most.
VARIANTS = 8


class NotPlanned(Exception):
    """The document uses something a plan does not cover: graphql-core runs it."""


@dataclass(frozen=True, slots=True)
class Leaf:
    coerce: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class NonNull:
    of: Completion


@dataclass(frozen=True, slots=True)
class ListOf:
    of: Completion
    # Whether an item's completion needs its path (resolvers below it read it in their info).
    paths: bool = True


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    type: GraphQLObjectType
    fields: tuple[FieldPlan, ...]
    # The fields whose values are the object's own: __typename, and attributes with nothing
    # resolved at or below them. Their part of the answer is a function of the object alone,
    # completed once per plan and object (executor.py, Completed).
    own: tuple[FieldPlan, ...] = ()
    # The others, completed for every request: resolvers, and what holds one below it.
    rest: tuple[FieldPlan, ...] = ()

    @classmethod
    def of(cls, type_: GraphQLObjectType, fields: tuple[FieldPlan, ...]) -> ObjectPlan:
        own = tuple(f for f in fields if f.typename is not None or _own(f))
        rest = tuple(f for f in fields if f.typename is None and not _own(f))
        return cls(type_, fields, own, rest)

    @property
    def resolves(self) -> bool:
        """Whether a resolver runs for some field of it, or below it (so paths are needed)."""
        return bool(self.rest)


def _own(step: FieldPlan) -> bool:
    return step.attribute is not None and not step.needs_path


Completion = Leaf | NonNull | ListOf | ObjectPlan
# A resolver function called with the parent, what makes graphql-core's resolve info (made
# only if the resolver reads more of its Info than the context), the context, and the field's
# argument values by GraphQL name (graphql-core's get_argument_values).
DirectCall = Callable[[Any, Callable[[], GraphQLResolveInfo[Any]], Any, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class FieldPlan:
    key: str
    # graphql-core's view of the field (resolver info, argument values, errors).
    details: list[FieldDetails]
    nodes: list[FieldNode]
    definition: GraphQLField | None
    completion: Completion | None
    # Exactly one way of reading the value: the parent's type name (__typename), an attribute
    # (a basic field), or the field's resolver.
    typename: str | None = None
    attribute: str | None = None
    takes_arguments: bool = False
    # A direct call's argument values, read with the plan, when the document writes them all
    # (no variable) and none can be changed (plans.py, _written_arguments).
    arguments: dict[str, Any] | None = None
    call: DirectCall | None = None
    # Whether completing the value needs its path (lists and objects; leaves never do).
    needs_path: bool = field(default=False)
    # A leaf's coercion, when the field's type is one (String, Decimal!...): completed in line.
    leaf: Callable[[Any], Any] | None = None
    non_null: bool = False


class Plans:
    """Plans per operation, bounded: an endless stream of distinct documents cannot grow it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def find(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
    ) -> ObjectPlan | None:
        """The operation's plan for these variables; None when graphql-core must run it."""
        if operation.operation is not OperationType.QUERY:
            return None
        entry = self._entries.get(id(operation))
        if entry is None or entry.operation is not operation:
            entry = _Entry(operation, _directive_variables(operation, fragments))
            self._entries[id(operation)] = entry
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(id(operation))
        coerced = variables.coerced
        values = tuple(bool(coerced.get(name)) for name in entry.directive_variables)
        if values in entry.plans:
            return entry.plans[values]
        try:
            plan: ObjectPlan | None = _Compiler(schema, operation, fragments, variables).root()
        except NotPlanned:
            plan = None
        if len(entry.plans) >= VARIANTS:
            entry.plans.pop(next(iter(entry.plans)))
        entry.plans[values] = plan
        return plan


@dataclass
class _Entry:
    # Held so that id(operation) cannot be reused while the entry lives.
    operation: OperationDefinitionNode
    directive_variables: tuple[str, ...]
    plans: dict[tuple[bool, ...], ObjectPlan | None] = field(default_factory=dict)


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        config = getattr(getattr(schema, "_strawberry_schema", None), "config", None)
        self.default_is_getattr = getattr(config, "default_resolver", None) is getattr
        self.info_class = getattr(config, "info_class", None)
        self.name_converter = getattr(config, "name_converter", None)

    def root(self) -> ObjectPlan:
        root_type = self.schema.query_type
        if root_type is None:
            raise NotPlanned("no query type")
        collected = collect_fields(
            self.schema, self.fragments, self.variables, root_type, self.operation
        )
        if collected.new_defer_usages:
            raise NotPlanned("@defer")
        return self._object(root_type, collected.grouped_field_set)

    def _object(
        self, type_: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]
    ) -> ObjectPlan:
        if type_.is_type_of is not None:
            raise NotPlanned(f"{type_.name} has an is_type_of check")
        return ObjectPlan.of(
            type_, tuple(self._field(type_, key, details) for key, details in grouped.items())
        )

    def _field(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> FieldPlan:
        first = details[0]
        if first.fragment_variable_values is not None or first.defer_usage is not None:
            raise NotPlanned("fragment arguments or @defer")
        nodes = [detail.node for detail in details]
        name = first.node.name.value
        if name == "__typename":
            return FieldPlan(key, details, nodes, None, None, typename=parent.name)
        definition = parent.fields.get(name)
        if definition is None or definition.resolve is None:
            raise NotPlanned(f"{parent.name}.{name}")  # introspection, or no resolver
        if any(directive.name.value == "stream" for directive in first.node.directives or ()):
            raise NotPlanned("@stream")
        completion = self._completion(definition.type, details)
        own = definition.extensions.get(STRAWBERRY_FIELD)
        basic = own is not None and own.is_basic_field and self.default_is_getattr
        takes_arguments = bool(definition.args or first.node.arguments)
        call = None if basic or own is None else self._direct_call(own, definition)
        return FieldPlan(
            key,
            details,
            nodes,
            definition,
            completion,
            attribute=own.python_name if basic and not definition.args else None,
            takes_arguments=takes_arguments,
            # Only for a direct call, whose arguments are scalars and enums: values nothing
            # can change, so one dict can serve every request.
            arguments=(
                self._written_arguments(definition, first.node)
                if call is not None and takes_arguments
                else None
            ),
            call=call,
            needs_path=_resolves(completion),
            leaf=_leaf(completion),
            non_null=isinstance(completion, NonNull),
        )

    def _completion(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> Completion:
        if isinstance(type_, GraphQLNonNull):
            return NonNull(self._completion(type_.of_type, details))
        if isinstance(type_, GraphQLList):
            of = self._completion(type_.of_type, details)
            return ListOf(of, paths=_resolves(of))
        if is_leaf_type(type_):
            return Leaf(type_.coerce_output_value)
        if isinstance(type_, GraphQLObjectType):
            collected = collect_subfields(
                self.schema, self.fragments, self.variables, self.operation, type_, details
            )
            if collected.new_defer_usages:
                raise NotPlanned("@defer")
            return self._object(type_, collected.grouped_field_set)
        raise NotPlanned(f"abstract type {type_}")

    def _written_arguments(
        self, definition: GraphQLField, node: FieldNode
    ) -> dict[str, Any] | None:
        """The field's argument values when none comes from a variable: the same for every
        request the plan answers (defaults included)."""
        if any(_has_variable(argument.value) for argument in node.arguments or ()):
            return None
        try:
            values = get_argument_values(definition, node, self.variables)
        except GraphQLError:
            return None  # read per request, which raises the same error where it belongs
        # Shared by every request: only values no resolver can change (a custom scalar's
        # literal may be a dict or a list, made anew for each request by graphql-core).
        if not all(isinstance(value, _IMMUTABLE) for value in values.values()):
            return None
        return values

    def _direct_call(self, own: StrawberryField, definition: GraphQLField) -> DirectCall | None:
        resolver = own.base_resolver
        if (
            resolver is None
            or own.extensions
            or resolver.self_parameter is not None
            or self.info_class is None
            or self.name_converter is None
        ):
            return None
        names = _passed_as_is(own, definition, self.name_converter)
        if names is None:
            return None
        function = cast(Callable[..., Any], resolver.wrapped_func)
        info_class = self.info_class
        parents = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
        info_parameter = resolver.info_parameter
        info_name = info_parameter.name if info_parameter is not None else None

        lazy = _lazy_info_class(info_class)
        order = [
            "parent" if name in parents else "info" if name == info_name else None
            for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]

        # The bot's resolvers take (parent, info) in that order: called so, positionally (a
        # keyword dict per call was a fifth of the call's cost, a hundred calls a Portfolio).
        def parent_and_info(
            source: Any,
            raw_info: Callable[[], GraphQLResolveInfo[Any]],
            context: Any,
            values: dict[str, Any],
        ) -> Any:
            return function(source, lazy(raw_info, own, context))

        def by_name(
            source: Any,
            raw_info: Callable[[], GraphQLResolveInfo[Any]],
            context: Any,
            values: dict[str, Any],
        ) -> Any:
            # Strawberry's convert_arguments hands a scalar or an enum over unchanged, under
            # its Python name; an argument absent (no value, no default) is left out.
            arguments = {python: values[name] for name, python in names if name in values}
            arguments.update(dict.fromkeys(parents, source))
            if info_name is not None:
                arguments[info_name] = lazy(raw_info, own, context)
            return function(**arguments)

        if order == ["parent", "info"] and len(parents) == 1 and not names:
            return parent_and_info
        return by_name


def _has_variable(value: ValueNode) -> bool:
    """Whether a variable is in the value, at any depth (a custom scalar's literal may hold
    one in a list or an object). Not graphql-core's is_const_value_node: it takes a list as
    constant when any one item is, and an empty one as not."""
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(field.value) for field in value.fields)
    return False


def _passed_as_is(
    own: StrawberryField, definition: GraphQLField, name_converter: NameConverter
) -> list[tuple[str, str]] | None:
    """(GraphQL name, Python name) of each argument, when Strawberry would pass every one
    unchanged: a scalar or an enum, optional or not, not Maybe (wrapped in Some) nor GlobalID
    (decoded); else None, and Strawberry's wrapper converts them."""
    names: list[tuple[str, str]] = []
    for argument in own.arguments:
        type_ = argument.type
        if isinstance(type_, StrawberryMaybe):
            return None
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        name = name_converter.from_argument(argument)
        graphql_argument = definition.args.get(name)
        if (
            graphql_argument is None
            or type_ is GlobalID
            or not is_leaf_type(get_nullable_type(graphql_argument.type))
        ):
            return None
        names.append((name, argument.python_name))
    return names


@functools.cache
def _lazy_info_class(info_class: type[Any]) -> type[Any]:
    """The schema's Info class, its graphql-core resolve info made when first read.

    The bot's resolvers read `info.context` and nothing else; building graphql-core's resolve
    info (a fourteen-field tuple and the field's path) for each of a Portfolio's hundred
    resolver calls was 5% of it. Every other attribute reads the real one, made on demand.
    """

    class LazyInfo(info_class):  # type: ignore[misc]
        # A plain attribute, not Info's property: read by every resolver, a frame each time.
        context: Any = None

        def __init__(
            self, raw_info: Callable[[], GraphQLResolveInfo[Any]], own: Any, context: Any
        ) -> None:
            self._make_raw_info = raw_info
            self._made: GraphQLResolveInfo[Any] | None = None
            self._field = own
            self.context = context

        @property
        def _raw_info(self) -> GraphQLResolveInfo[Any]:
            if self._made is None:
                self._made = self._make_raw_info()
            return self._made

    return LazyInfo


def _leaf(completion: Completion) -> Callable[[Any], Any] | None:
    if isinstance(completion, NonNull):
        completion = completion.of
    return completion.coerce if isinstance(completion, Leaf) else None


def _resolves(completion: Completion | None) -> bool:
    while isinstance(completion, NonNull | ListOf):
        completion = completion.of
    return isinstance(completion, ObjectPlan) and completion.resolves


def _directive_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
) -> tuple[str, ...]:
    """The variables @skip and @include read, anywhere the operation may reach."""
    names: dict[str, None] = {}

    class Reader(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        names[argument.value.name.value] = None

    visit(operation, Reader())
    for fragment in fragments.values():
        visit(fragment.definition, Reader())
    return tuple(names)
