"""Rows into Strawberry objects: each entity's class is its one description.

Column names equal field names (each statement in sql/ selects them so), and a row read from
PostgreSQL and the same row read from the cache carry the same Python types (cache/codec.py).
So building an object needs nothing but the class's own annotations: an ID is taken from an
int or a text column, an enum from its value, everything else as it comes. Fields with a
resolver (a position's market and values) are computed when read, not columns.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from sql.database import Row

T = TypeVar("T")


class FromRow(Generic[T]):
    """Builds a `cls` from a row holding its columns (and maybe more, such as `key`)."""

    def __init__(self, cls: type[T]) -> None:
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.columns = tuple(
            (field.name, _converter(hints[field.name]))
            for field in dataclasses.fields(cls)  # type: ignore[arg-type]
            if field.init
        )

    def __call__(self, row: Row) -> T:
        return self.cls(
            **{
                name: row[name] if convert is None else convert(row[name])
                for name, convert in self.columns
            }
        )


def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """How a column's value becomes the field's: None when it already is (str, Decimal...)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = args[0] if typing.get_origin(hint) is not list and len(args) == 1 else hint
    if kind is strawberry.ID:
        return lambda value: None if value is None else strawberry.ID(str(value))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return lambda value: None if value is None else kind(value)
    return None
