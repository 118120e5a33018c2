"""What a client sees when something goes wrong, and what the log keeps (shape_errors runs in
the HTTP view on every result).

User errors (`UserError` and its kinds) keep their message and carry a code in `extensions`.
Errors before execution get the contract's codes: GRAPHQL_PARSE_FAILED,
GRAPHQL_VALIDATION_FAILED, and BAD_USER_INPUT for a variable that is missing or cannot be
coerced. Anything else is a bug or an outage: its message is replaced (no SQL, no stack trace
reaches the client), and it is logged with the request id that the client is given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error. Quote the request id when reporting it."


class UserError(Exception):
    """A request the service refuses; the message names the field, the value and the rule."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadUserInput(UserError):
    code = "BAD_USER_INPUT"


class NotFound(UserError):
    code = "NOT_FOUND"


class Busy(UserError):
    """The service is saturated; the client should retry shortly."""

    code = "SERVICE_BUSY"


def check_list_size(field: str, size: int, most: int) -> None:
    """Refuse an oversized list argument before anything runs (MAX_LIST_ITEMS)."""
    if size > most:
        raise BadUserInput(f"{field}: {size} items is too many; at most {most}.", field=field)


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = getattr(execution_context, "context", None)
    return getattr(context, "request_id", None)


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, (UserError, GraphQLError))


def log_internal_errors(
    errors: list[GraphQLError], execution_context: ExecutionContext | None
) -> None:
    for error in errors:
        if _is_internal(error):
            request_id = _request_id(execution_context)
            log.error(
                "internal error in %s (request %s)",
                ".".join(str(p) for p in error.path or ()) or "operation",
                request_id,
                exc_info=error.original_error,
                extra={"request_id": request_id},
            )


def _with_code(error: GraphQLError, code: str, **more: Any) -> None:
    error.extensions = {**(error.extensions or {}), "code": code, **more}


class ValidationCodes(SchemaExtension):
    """Marks validation errors while they are still known as such (nothing else tells them
    apart from a variable that could not be coerced once the operation is over)."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if "code" not in (error.extensions or {}):
                _with_code(error, "GRAPHQL_VALIDATION_FAILED")


def shape_errors(errors: list[GraphQLError], request_id: str | None) -> list[GraphQLError]:
    """Every error with the contract's code; internal ones masked, carrying the request id.

    Called by the HTTP view on every result: a parse error raised inside an extension's hook
    (the parser cache, the token limit) escapes every schema extension, but not the view.
    """
    shaped: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        if "code" in (error.extensions or {}):
            shaped.append(error)
        elif isinstance(error, GraphQLSyntaxError):
            _with_code(error, "GRAPHQL_PARSE_FAILED")
            shaped.append(error)
        elif isinstance(original, UserError):
            extensions = {"code": original.code}
            if original.field:
                extensions["field"] = original.field
            _with_code(error, **extensions)
            shaped.append(error)
        elif _is_internal(error):
            shaped.append(
                GraphQLError(
                    INTERNAL_MESSAGE,
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        else:
            # A GraphQLError raised by graphql-core while executing: with no path, the
            # variables could not be coerced (before any resolver ran); with a path, a
            # value failed to parse as its scalar, both the client's input.
            _with_code(error, "BAD_USER_INPUT")
            shaped.append(error)
    return shaped
