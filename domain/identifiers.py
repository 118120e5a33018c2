"""Parsing of the ids that travel as GraphQL `ID` strings into the integers stored.

Telegram ids and position ids are PostgreSQL bigints: positive and at most 2^63 - 1. Queries
treat a malformed id as unknown (null); mutations refuse it with BAD_USER_INPUT.
"""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1


def parse_bigint_id(raw: str) -> int | None:
    """The id as a positive bigint, or None when it is not one."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= BIGINT_MAX else None
