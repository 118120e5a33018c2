"""Reads the Polymarket market snapshot (Gamma API shape) into validated, typed markets.

A row the database would refuse (see the CHECKs in sql/migrations/0001_market.sql) is skipped,
logged and returned in `Snapshot.skipped` with its reason, so one bad row never stops a seed.
Prices with more than twelve decimals are refused rather than rounded, as the API refuses them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CONDITION_ID = re.compile(r"0x[0-9a-f]{64}")
# NUMERIC(13,12): a price must be exact at this scale.
PRICE_QUANTUM = Decimal("1e-12")


class InvalidMarket(ValueError):
    """A snapshot row that cannot become a `market` row; the message is the reason."""


@dataclass(frozen=True)
class SnapshotMarket:
    """One market of the snapshot, shaped like a `market` row (arrays aligned by index)."""

    id: str
    title: str
    slug: str
    condition_id: str
    outcomes: list[str]
    outcome_prices: list[Decimal] | None
    clob_token_ids: list[str]
    volume: Decimal
    liquidity: Decimal
    end_date: datetime | None
    active: bool
    resolved: bool = False


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    markets: list[SnapshotMarket]
    # (market id, reason) for each row left out.
    skipped: list[tuple[str, str]]


def read_snapshot(path: Path) -> Snapshot:
    """Parse the file; a malformed file raises ValueError, a malformed row is skipped."""
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object with 'metadata' and 'markets'")
    metadata = document.get("metadata")
    rows = document.get("markets")
    if not isinstance(metadata, dict) or not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON object with 'metadata' and 'markets'")
    try:
        taken_at = _timestamp(metadata.get("last_updated"), "metadata.last_updated")
    except InvalidMarket as error:
        raise ValueError(f"{path}: {error}") from None
    if taken_at is None:
        raise ValueError(f"{path}: metadata.last_updated is missing")

    markets: list[SnapshotMarket] = []
    skipped: list[tuple[str, str]] = []
    ids: set[str] = set()
    condition_ids: set[str] = set()
    for index, row in enumerate(rows):
        market_id = _row_id(row, index)
        try:
            market = parse_market(row)
            # The table's PRIMARY KEY and UNIQUE (condition_id): the first row wins.
            if market.id in ids:
                raise InvalidMarket(f"duplicate id {market.id}")
            if market.condition_id in condition_ids:
                raise InvalidMarket(f"duplicate condition_id {market.condition_id}")
        except InvalidMarket as error:
            log.warning("Skipping market %s from %s: %s", market_id, path.name, error)
            skipped.append((market_id, str(error)))
            continue
        ids.add(market.id)
        condition_ids.add(market.condition_id)
        markets.append(market)
    return Snapshot(taken_at=taken_at, markets=markets, skipped=skipped)


def parse_market(row: object) -> SnapshotMarket:
    """One Gamma API market; raises InvalidMarket naming the first field that is wrong."""
    if not isinstance(row, dict):
        raise InvalidMarket(f"expected a JSON object, got {type(row).__name__}")
    market_id = _text(row, "id")
    condition_id = _text(row, "condition_id", allow_empty=True)
    if not CONDITION_ID.fullmatch(condition_id):
        raise InvalidMarket(f"condition_id {condition_id!r} is not 0x followed by 64 hex digits")
    outcomes = _strings(row, "outcomes")
    if len(outcomes) < 2:
        raise InvalidMarket(f"outcomes has {len(outcomes)} entries, expected at least 2")
    if len(set(outcomes)) != len(outcomes):
        # A position names its outcome by spelling; two equal spellings would be ambiguous.
        raise InvalidMarket(f"outcomes {outcomes} repeat a name")
    clob_token_ids = _strings(row, "clob_token_ids")
    if len(clob_token_ids) != len(outcomes):
        raise InvalidMarket(
            f"clob_token_ids has {len(clob_token_ids)} entries for {len(outcomes)} outcomes"
        )
    return SnapshotMarket(
        id=market_id,
        title=_text(row, "question"),
        slug=_text(row, "slug"),
        condition_id=condition_id,
        outcomes=outcomes,
        outcome_prices=_prices(row, len(outcomes)),
        clob_token_ids=clob_token_ids,
        volume=_amount(row, "volume"),
        liquidity=_amount(row, "liquidity"),
        end_date=_timestamp(row.get("end_date"), "end_date"),
        active=_flag(row, "tradeable"),
    )


def _row_id(row: object, index: int) -> str:
    """The id to report a row under, even when the row is too broken to have one."""
    if isinstance(row, dict) and isinstance(row.get("id"), str | int) and row["id"] != "":
        return str(row["id"])
    return f"<row {index}>"


def _text(row: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise InvalidMarket(f"{name} is {value!r}, expected a string")
    if not value and not allow_empty:
        raise InvalidMarket(f"{name} is empty")
    return value


def _array(row: Mapping[str, Any], name: str) -> list[Any]:
    """A Gamma array field: a JSON array encoded as a string, or (rarely) a real array."""
    value = row.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise InvalidMarket(
                f"{name} is not a valid JSON array ({error.msg}): {value!r}"
            ) from None
    if not isinstance(value, list):
        raise InvalidMarket(f"{name} is {value!r}, expected a JSON array")
    return value


def _strings(row: Mapping[str, Any], name: str) -> list[str]:
    values = _array(row, name)
    if not all(isinstance(value, str) and value for value in values):
        raise InvalidMarket(f"{name} {values!r} holds something other than non-empty strings")
    return values


def _prices(row: Mapping[str, Any], count: int) -> list[Decimal] | None:
    values = _array(row, "outcome_prices")
    if not values:
        return None
    if len(values) != count:
        raise InvalidMarket(f"outcome_prices has {len(values)} entries for {count} outcomes")
    prices = [_decimal(value, "outcome_prices") for value in values]
    for price in prices:
        if not 0 <= price <= 1:
            raise InvalidMarket(f"outcome_prices has {price}, outside [0, 1]")
        if price.quantize(PRICE_QUANTUM) != price:
            raise InvalidMarket(f"outcome_prices has {price}, more than 12 decimals")
    return prices


def _amount(row: Mapping[str, Any], name: str) -> Decimal:
    amount = _decimal(row.get(name), name)
    if amount < 0:
        raise InvalidMarket(f"{name} is {amount}, expected >= 0")
    return amount


def _decimal(value: object, name: str) -> Decimal:
    """A decimal string, or a JSON number through its shortest repr (0.1 stays 0.1)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidMarket(f"{name} has {value!r}, expected a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidMarket(f"{name} has {value!r}, not a number") from None
    if not number.is_finite():
        raise InvalidMarket(f"{name} has {value!r}, not a finite number")
    return number


def _timestamp(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMarket(f"{name} is {value!r}, expected an ISO 8601 string or null")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMarket(f"{name} is {value!r}, not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise InvalidMarket(f"{name} is {value!r}, which has no time zone")
    return moment


def _flag(row: Mapping[str, Any], name: str) -> bool:
    value = row.get(name)
    if not isinstance(value, bool):
        raise InvalidMarket(f"{name} is {value!r}, expected true or false")
    return value
