"""Built values: the same decoded object builds once; anything else builds anew."""

from __future__ import annotations

from typing import Any

from loaders.cached_loader import Built


def test_the_same_decoded_entry_is_built_once_and_a_new_one_again() -> None:
    built = Built(size=2)
    calls: list[Any] = []

    def build(found: Any) -> Any:
        calls.append(found)
        return {"built": found["id"]}

    entry = {"id": "1"}
    first = built.get(entry, build)
    assert built.get(entry, build) is first  # the very object: kept
    assert built.get({"id": "1"}, build) is not first  # equal bytes decoded anew: new object
    assert len(calls) == 2


def test_rows_from_postgresql_are_not_kept_and_the_size_is_bounded() -> None:
    built = Built(size=2)
    row = ("a record",)  # asyncpg Records are not dicts: never handed back as the same object
    assert built.get(row, lambda found: [found]) is not built.get(row, lambda found: [found])
    entries = [{"id": str(n)} for n in range(3)]
    values = [built.get(e, lambda found: object()) for e in entries]
    assert built.get(entries[2], lambda found: object()) is values[2]
    assert built.get(entries[0], lambda found: object()) is not values[0]  # the oldest went
