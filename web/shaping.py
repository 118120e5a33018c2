"""What a client sees when something goes wrong: every error with the contract's code.

User errors (`errors.UserError` and its kinds) keep their message and carry a code in
`extensions`; the retryable ones (SERVICE_BUSY, SERVICE_UNAVAILABLE) carry the request id too.
Errors before execution get the contract's codes: GRAPHQL_PARSE_FAILED,
GRAPHQL_VALIDATION_FAILED (marked while still known as such, schema/extensions/
validation_codes.py), and BAD_USER_INPUT for a variable that is missing or cannot be coerced.
Anything else is a bug or a failure nobody foresaw: its message is replaced (no SQL, no stack
trace reaches the client) by one carrying the request id that the log line for it carries too.
"""

from __future__ import annotations

from graphql import GraphQLError, GraphQLSyntaxError

from errors import UserError, is_internal, with_code

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
        elif is_internal(error):
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
