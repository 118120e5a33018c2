"""What a client sees when something goes wrong: every error with the contract's code.

User errors (`errors.UserError` and its kinds) keep their message and carry a code in
`extensions`; the retryable ones (SERVICE_BUSY, SERVICE_UNAVAILABLE) carry the request id too.
Errors before execution get the contract's codes: GRAPHQL_PARSE_FAILED,
GRAPHQL_VALIDATION_FAILED (marked while still known as such, schema/extensions/
documents.py), and BAD_USER_INPUT for a variable that is missing or cannot be coerced.
Anything else is a bug or a failure nobody foresaw: its message is replaced (no SQL, no stack
trace reaches the client) by one carrying the request id, and it is logged here, with that id
and its traceback, as it is masked (the schema logs nothing: Strawberry would log a user's typo).
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from errors import UserError

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error. Quote the request id when reporting it."


def shape_errors(errors: list[GraphQLError], request_id: str | None) -> list[GraphQLError]:
    """Every error with the contract's code; internal ones masked, carrying the request id.

    Called by the view on every result: a parse error raised inside an extension's hook
    (the parser cache, the token limit) escapes every schema extension, but not the view.
    """
    shaped: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        if "code" in (error.extensions or {}):
            shaped.append(error)
        elif isinstance(error, GraphQLSyntaxError):
            with_code(error, "GRAPHQL_PARSE_FAILED")
            shaped.append(error)
        elif isinstance(original, UserError):
            more: dict[str, str | None] = {}
            if original.field:
                more["field"] = original.field
            if original.retryable:  # the service's state, so the operator's business too
                more["requestId"] = request_id
            with_code(error, original.code, **more)
            shaped.append(error)
        elif original is not None and not isinstance(original, GraphQLError):
            log.error(
                "internal error in %s (request %s)",
                ".".join(str(p) for p in error.path or ()) or "operation",
                request_id,
                exc_info=original,
                extra={"request_id": request_id},
            )
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
            with_code(error, "BAD_USER_INPUT")
            shaped.append(error)
    return shaped


def with_code(error: GraphQLError, code: str, **more: Any) -> None:
    """The error's `extensions` with the contract's code (and whatever else names the problem)."""
    error.extensions = {**(error.extensions or {}), "code": code, **more}
