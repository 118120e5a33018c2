"""Rows to bytes and back: JSON that names the columns it must turn back into Decimal or datetime.

JSON has neither type: Decimals travel as strings (never through float), datetimes as ISO 8601.
Each entry starts with the columns to restore, found from the row's own values when it is
written, so the cache needs no description of any entity: a hit comes back typed as the miss
came from PostgreSQL, and no list of Decimal columns can be out of date (one was, once, and
broke only warm reads). Written by hand: msgpack's extension types do the same, but decoded 20
positions in 93 µs against 41 µs here (orjson).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

# How a column is restored: a Decimal, a list of Decimals, a datetime.
Restore = Literal["d", "l", "t"]


def encode(
    value: Any, columns: Collection[str] | None = None, leave: Collection[str] = ()
) -> bytes:
    """A row (an asyncpg Record or a dict) or a list of rows, as JSON; only `columns` if given,
    never those in `leave`."""
    many = isinstance(value, list)
    rows = value if many else [value]
    picked = [
        {
            name: item
            for name, item in row.items()
            if (columns is None or name in columns) and name not in leave
        }
        for row in rows
    ]
    restore: dict[str, Restore] = {}
    for row in picked:
        for name, item in row.items():
            if name not in restore and (kind := _restore(item)) is not None:
                restore[name] = kind
    body = picked if many else picked[0]
    return orjson.dumps([restore, body], default=_default)


def decode(data: bytes) -> Any:
    """What `encode` was given (its picked columns), with Decimals and datetimes restored."""
    restore, body = orjson.loads(data)
    for row in [body] if isinstance(body, dict) else body:
        for name, kind in restore.items():
            item = row.get(name)
            if item is None:
                continue
            if kind == "d":
                row[name] = Decimal(item)
            elif kind == "l":
                row[name] = [Decimal(element) for element in item]
            else:
                row[name] = datetime.fromisoformat(item)
    return body


def _restore(item: object) -> Restore | None:
    if isinstance(item, Decimal):
        return "d"
    if isinstance(item, datetime):
        return "t"
    if isinstance(item, list) and item and isinstance(item[0], Decimal):
        return "l"
    return None


def _default(item: object) -> str:
    if isinstance(item, Decimal):
        return str(item)
    raise TypeError(f"cannot cache a {type(item).__name__}")
