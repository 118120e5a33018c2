"""GRAPHQL_VALIDATION_FAILED on validation errors, while they are still known as such.

Once the operation is over nothing tells a validation error apart from a variable that could
not be coerced; web/shaping.py codes everything else.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class ValidationCodes(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
