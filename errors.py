"""What the service refuses, and how each refusal is named for the client.

`UserError` and its kinds carry a message that names the field, the value and the rule, and a
code for `extensions`; every layer raises them (checks, resolvers, the database's pool), and the
HTTP edge shapes them (web/shaping.py). No GraphQL here: the worker and the writes raise these
too. PostgreSQL being away is one of them (`Unavailable`, raised
by sql/database.py), since the client can do something about it: retry. Anything else that
escapes a resolver is internal: a bug or a failure nobody foresaw, masked for the client and
logged with the request id.
"""

from __future__ import annotations

from typing import ClassVar


class UserError(Exception):
    """A request the service refuses; the message names the field, the value and the rule."""

    code = "BAD_USER_INPUT"
    # The service's state refused it, not the request: the client should send it again
    # shortly, and the error carries the request id so an operator can find its log line.
    retryable: ClassVar[bool] = False

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
    retryable = True


class Unavailable(UserError):
    """PostgreSQL cannot be reached (stopped, restarting, cut off); the client should retry.

    Raised by sql/database.py for an outage, never for a statement PostgreSQL refused; the
    message is fixed, so no address or driver detail reaches the client.
    """

    code = "SERVICE_UNAVAILABLE"
    retryable = True


def check_list_size(field: str, size: int, most: int) -> None:
    """Refuse an oversized list argument before anything runs (MAX_LIST_ITEMS)."""
    if size > most:
        raise BadUserInput(f"{field}: {size} items is too many; at most {most}.", field=field)


def check_first(field: str, first: int, most: int) -> None:
    """Refuse a page size outside 1..most (trendingMarkets, trades, smartTrades...)."""
    if not 1 <= first <= most:
        raise BadUserInput(f"{field}: {first} is out of range; expected 1 to {most}.", field=field)
