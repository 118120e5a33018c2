"""Parsed and validated documents, one bounded cache per schema: each done once per document.

The view asks whether a request's operation is a query before anything executes (only
queries have kept answers, cache/answers.py), and the schema then executes the same document:
both take it from here, so a document is parsed once per process, not once by each. Bounded
(PARSER_CACHE_SIZE), so a client sending endless distinct documents cannot grow memory; the
token limit (MAX_TOKENS) is enforced while parsing, before a large document costs anything.
Replaces Strawberry's ParserCache and MaxTokensLimiter, whose cache the view cannot reach, and
its ValidationCache, whose key is the parsed document: hashing a document walks its whole tree,
4% of an executed Portfolio's CPU, where the text's hash is kept by the string itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension

from cache.answers import document_id


class Documents:
    """`rules`: the deployment's own validation rules (limits, no introspection), run with
    graphql-core's specified rules; validation errors leave with GRAPHQL_VALIDATION_FAILED,
    while they are still known as such (once the operation is over nothing tells them apart
    from a variable that could not be coerced; web/shaping.py codes everything else)."""

    def __init__(
        self, size: int, max_tokens: int, rules: tuple[type[ASTValidationRule], ...] = ()
    ) -> None:
        self.max_tokens = max_tokens
        self.rules = rules
        self.parse = lru_cache(maxsize=size)(self._parse)
        self.validate = lru_cache(maxsize=size)(self._validate)
        # The document's SHA-256 (what a persisted query sends), for kept answers' keys: the
        # bot sends the same few documents, a kilobyte each, on every request.
        self.digest = lru_cache(maxsize=size)(document_id)

    def _parse(self, query: str) -> DocumentNode:
        return parse(query, max_tokens=self.max_tokens)

    def _validate(self, query: str, schema: GraphQLSchema) -> list[GraphQLError]:
        errors = validate(schema, self.parse(query), (*specified_rules, *self.rules))
        for error in errors:
            error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return errors

    def operation_type(self, query: str, operation_name: str | None) -> OperationType | None:
        """The type of the operation a request runs; None if it would not run (no such
        operation, or a document that does not parse: the schema says why)."""
        try:
            document = self.parse(query)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        return None if operation is None else operation.operation


class ParseOnce(SchemaExtension):
    """The schema's parse and validation steps, from the shared cache. One extension for
    both, and no more than the schema needs: Strawberry enters every extension's hooks for
    every request (about 8% of an executed Portfolio with six of them)."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            context.graphql_document = self.documents.parse(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            context.pre_execution_errors = self.documents.validate(
                context.query, context.schema._schema
            )
        yield
