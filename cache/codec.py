"""Rows to bytes and back: orjson, with the Decimal and datetime columns restored by name.

JSON has no decimal type, so Decimals travel as strings (never through float) and each kind
of row names the fields to turn back into Decimal or datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import orjson

from sql.database import Row


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot cache a {type(value).__name__}")


@dataclass(frozen=True)
class Codec:
    fields: tuple[str, ...]
    decimals: frozenset[str] = frozenset()
    decimal_lists: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset()

    def encode(self, value: Row | list[Row] | str | list[str]) -> bytes:
        """A row (its `fields` only) or a list of rows; with no fields, plain JSON (ids)."""
        if not self.fields:
            return orjson.dumps(value)
        if isinstance(value, list):
            rows = cast(list[Row], value)
            return orjson.dumps([self._plain(row) for row in rows], default=_default)
        return orjson.dumps(self._plain(cast(Row, value)), default=_default)

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        if not self.fields:
            return value
        if isinstance(value, list):
            return [self._typed(row) for row in value]
        if isinstance(value, dict):
            return self._typed(value)
        return value

    def _plain(self, row: Row) -> dict[str, Any]:
        return {name: row[name] for name in self.fields}

    def _typed(self, row: dict[str, Any]) -> dict[str, Any]:
        for name in self.decimals:
            if row.get(name) is not None:
                row[name] = Decimal(row[name])
        for name in self.decimal_lists:
            if row.get(name) is not None:
                row[name] = [Decimal(item) for item in row[name]]
        for name in self.datetimes:
            if row.get(name) is not None:
                row[name] = datetime.fromisoformat(row[name])
        return row
