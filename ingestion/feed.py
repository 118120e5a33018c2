"""Polymarket's market feed, frame by frame: text in, (token id, price) ticks and resolutions out.

A frame holds one event or a JSON array of them (Polymarket's market channel, described in
docs/ingestion.md). `price_change` gives one tick per entry (the midpoint of best bid and best
ask when both are there, else `price`), `book` the midpoint of its best levels (none when a side
is empty), `best_bid_ask` (a custom feature) the midpoint of its best bid and ask (none when one
is missing or empty, as a book's empty side), `last_trade_price` its price. `market_resolved`
(a custom feature) gives a resolution: the market's condition id and the winning token.
Other kinds (`new_market`, `tick_size_change`, ...) carry no price and are ignored. One bad
event spoils only itself: the frame's other events still count, and the caller counts and logs
the bad ones, so garbage on the wire is never fatal.

Prices are Decimals read from the strings as sent (".48" included), never floats, and must lie
in [0, 1]. A midpoint can need one decimal more than its inputs; past the twelve the database
stores, it is rounded (a feed price, unlike a client's input, has no one to refuse it to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWO = Decimal(2)
_QUANTUM = Decimal("1e-12")


class Tick(NamedTuple):
    token_id: str
    price: Decimal


class Resolved(NamedTuple):
    """A `market_resolved` event: the market (its condition id) settled on this token."""

    condition_id: str
    winning_asset_id: str
    # The outcome's name as the feed spells it; the token decides (ingestion/resolutions.py).
    winning_outcome: str | None
    asset_ids: tuple[str, ...]


@dataclass
class Parsed:
    """What one frame held: its ticks and resolutions, and how many events could not be read."""

    ticks: list[Tick] = field(default_factory=list)
    resolutions: list[Resolved] = field(default_factory=list)
    malformed: int = 0
    # The first problem met, for the log line.
    problem: str | None = None

    def bad(self, problem: str) -> None:
        self.malformed += 1
        if self.problem is None:
            self.problem = problem


class _Malformed(Exception):
    """An event that does not follow the feed's format; the message says how."""


def parse_frame(frame: str | bytes) -> Parsed:
    """The ticks of one text frame, in the order the frame gave them."""
    parsed = Parsed()
    try:
        document = orjson.loads(frame)
    except orjson.JSONDecodeError:
        parsed.bad("not JSON")
        return parsed
    events = document if isinstance(document, list) else [document]
    for event in events:
        try:
            _read_event(event, parsed)
        except _Malformed as error:
            parsed.bad(str(error))
    return parsed


def _read_event(event: Any, parsed: Parsed) -> None:
    ticks = parsed.ticks
    if not isinstance(event, dict):
        raise _Malformed("an event that is not an object")
    kind = event.get("event_type")
    if kind == "price_change":
        changes = event.get("price_changes")
        if not isinstance(changes, list):
            raise _Malformed("price_change without a price_changes list")
        # Every entry is checked before any is kept: an event is read whole or not at all.
        found = [_price_change(change) for change in changes]
        ticks.extend(found)
    elif kind == "book":
        token = _token(event)
        bids, asks = event.get("bids"), event.get("asks")
        if not isinstance(bids, list) or not isinstance(asks, list):
            raise _Malformed("book without bids and asks lists")
        bid_prices = [_price(level.get("price")) for level in _levels(bids)]
        ask_prices = [_price(level.get("price")) for level in _levels(asks)]
        if bid_prices and ask_prices:
            ticks.append(Tick(token, _midpoint(max(bid_prices), min(ask_prices))))
    elif kind == "last_trade_price":
        ticks.append(Tick(_token(event), _price(event.get("price"))))
    elif kind == "best_bid_ask":
        token = _token(event)
        best_bid, best_ask = event.get("best_bid"), event.get("best_ask")
        if best_bid and best_ask:
            ticks.append(Tick(token, _midpoint(_price(best_bid), _price(best_ask))))
        elif any(side is not None and not isinstance(side, str) for side in (best_bid, best_ask)):
            raise _Malformed("best_bid_ask with a bid or ask that is not a decimal string")
    elif kind == "market_resolved":
        parsed.resolutions.append(_resolved(event))
    elif not isinstance(kind, str):
        raise _Malformed("an event without an event_type")
    # Any other kind (new_market, tick_size_change, ...) carries no price.


def _resolved(event: dict[str, Any]) -> Resolved:
    condition_id = event.get("market")
    if not isinstance(condition_id, str) or not condition_id:
        raise _Malformed("market_resolved without a market")
    winner = event.get("winning_asset_id")
    if not isinstance(winner, str) or not winner:
        raise _Malformed("market_resolved without a winning_asset_id")
    outcome = event.get("winning_outcome")
    assets = event.get("assets_ids", [])
    if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
        raise _Malformed("market_resolved whose assets_ids is not a list of token ids")
    return Resolved(
        condition_id, winner, outcome if isinstance(outcome, str) else None, tuple(assets)
    )


def _price_change(change: Any) -> Tick:
    if not isinstance(change, dict):
        raise _Malformed("a price_changes entry that is not an object")
    token = _token(change)
    best_bid, best_ask = change.get("best_bid"), change.get("best_ask")
    if best_bid and best_ask:
        return Tick(token, _midpoint(_price(best_bid), _price(best_ask)))
    return Tick(token, _price(change.get("price")))


def _levels(levels: list[Any]) -> list[dict[str, Any]]:
    if not all(isinstance(level, dict) for level in levels):
        raise _Malformed("a book level that is not an object")
    return levels


def _token(holder: dict[str, Any]) -> str:
    token = holder.get("asset_id")
    if not isinstance(token, str) or not token:
        raise _Malformed("no asset_id")
    return token


def _price(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise _Malformed(f"price {raw!r} is not a decimal string")
    try:
        price = Decimal(raw)
    except InvalidOperation:
        raise _Malformed(f"price {raw[:40]!r} is not a number") from None
    if not price.is_finite() or not _ZERO <= price <= _ONE:
        raise _Malformed(f"price {raw[:40]!r} is not a number in [0, 1]")
    return _fitted(price)


def _midpoint(bid: Decimal, ask: Decimal) -> Decimal:
    return _fitted((bid + ask) / _TWO)


def _fitted(price: Decimal) -> Decimal:
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        return price.quantize(_QUANTUM)
    return price
