"""What each role may run: the root fields of its key's role, checked before anything executes.

A known key may only select the root fields its role allows (`ROLE_FIELDS`); the check runs on
the operation's root fields, through fragments, before execution, so a forbidden operation runs
nothing at all. The key itself is checked at the HTTP edge (web/api_keys.py), which puts the
role in the request's state; with no keys configured the role is None and everything runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

BOT_MUTATIONS = frozenset(
    {"upsertUser", "recordTrade", "setTpSl", "syncPositions", "redeemPositions"}
)
# The price workers' and the wallet tracker's writes.
INGEST_MUTATIONS = frozenset(
    {"updateMarketPrices", "resolveMarkets", "recordWalletTrades", "updateWalletStats"}
)

# Root fields each role may select; None: every field of that operation type.
ROLE_FIELDS: dict[str, dict[str, frozenset[str] | None]] = {
    "admin": {"query": None, "mutation": None},
    "bot": {"query": None, "mutation": BOT_MUTATIONS},
    "ingest": {"query": frozenset(), "mutation": INGEST_MUTATIONS},
}
# Subscriptions (over WebSocket, web/subscriptions.py): the bot's, and the admin's; a role with
# none of them is refused at connection_init too, before any event flows.
ROLE_FIELDS["admin"]["subscription"] = None
ROLE_FIELDS["bot"]["subscription"] = None
ROLE_FIELDS["ingest"]["subscription"] = frozenset()


def may_subscribe(role: str | None) -> bool:
    """Whether a key's role may run any subscription; None: the API runs open."""
    return role is None or ROLE_FIELDS[role].get("subscription", frozenset()) != frozenset()


class RoleCheck(SchemaExtension):
    """Refuses an operation selecting a root field outside the caller's role: nothing runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        role: str | None = getattr(context.context, "role", None)
        document = context.graphql_document
        operation = (
            None if document is None else get_operation_ast(document, context.operation_name)
        )
        if role is not None and document is not None and operation is not None:
            allowed = ROLE_FIELDS[role].get(operation.operation.value, frozenset())
            fields = _root_fields(operation.selection_set, document)
            denied = sorted(f for f in fields if allowed is not None and f not in allowed)
            if denied:
                refusal = GraphQLError(
                    f"Forbidden: the '{role}' key may not run {', '.join(denied)}.",
                    extensions={"code": "FORBIDDEN"},
                )
                if operation.operation is OperationType.SUBSCRIPTION:
                    # Strawberry subscribes whatever result is set; an error raised here is
                    # answered instead, and the resolver never runs.
                    raise refusal
                # A result set before execution makes Strawberry skip executing the operation.
                context.result = ExecutionResult(data=None, errors=[refusal])
        yield


def _root_fields(selection_set: SelectionSetNode, document: DocumentNode) -> set[str]:
    """Root field names, through inline fragments and fragment spreads; __typename is free."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    pending = [selection_set]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value != "__typename":
                    names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if selection.name.value in fragments:
                    pending.append(fragments[selection.name.value].selection_set)
    return names
