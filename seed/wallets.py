"""Reads the watched wallets of data/polymarket-smart-wallets.csv into `wallet` rows.

The file's header is `User,Adresse ,Smartscore,Win Rate,Markets,Realized PnL` (a French column
name with a trailing space), so columns are found by their stripped names. Numbers are kept
exactly as written (Decimal from the text, never through a float). The address is lowercased;
an address listed again keeps its first row. A row the table would refuse (a malformed address,
a win rate outside [0, 1], more decimals than NUMERIC(38,18) holds) is skipped and logged with
its reason, as the market snapshot's are.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"0x[0-9a-f]{40}")
DECIMALS = 18  # the scale of wallet's numeric columns
LIMIT = Decimal(10) ** 20


class InvalidWallet(ValueError):
    """A CSV row that cannot become a `wallet` row; the message is the reason."""


@dataclass(frozen=True)
class SeedWallet:
    address: str
    smartscore: Decimal
    win_rate: Decimal
    markets_traded: int
    realized_pnl: Decimal


def read_wallets(path: Path) -> tuple[list[SeedWallet], list[tuple[int, str]]]:
    """The file's wallets, first row per address, and (line, reason) for each row skipped."""
    wallets: dict[str, SeedWallet] = {}
    skipped: list[tuple[int, str]] = []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = [name.strip() for name in next(reader)]
        for line, values in enumerate(reader, start=2):
            row = dict(zip(header, values, strict=False))
            try:
                wallet = _wallet(row)
            except InvalidWallet as error:
                log.warning("Skipping wallet on line %d of %s: %s", line, path.name, error)
                skipped.append((line, str(error)))
                continue
            wallets.setdefault(wallet.address, wallet)
    return list(wallets.values()), skipped


def _wallet(row: dict[str, str]) -> SeedWallet:
    address = row.get("Adresse", "").strip().lower()
    if not ADDRESS.fullmatch(address):
        raise InvalidWallet(f"address {address!r} is not 0x and 40 hex digits")
    win_rate = _number(row, "Win Rate")
    if not 0 <= win_rate <= 1:
        raise InvalidWallet(f"Win Rate {win_rate} is outside [0, 1]")
    markets = row.get("Markets", "").strip()
    if not markets.isascii() or not markets.isdigit() or int(markets) >= 2**31:
        raise InvalidWallet(f"Markets {markets!r} is not a count")
    return SeedWallet(
        address=address,
        smartscore=_number(row, "Smartscore"),
        win_rate=win_rate,
        markets_traded=int(markets),
        realized_pnl=_number(row, "Realized PnL"),
    )


def _number(row: dict[str, str], column: str) -> Decimal:
    text = row.get(column, "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidWallet(f"{column} {text!r} is not a number") from None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(value) >= LIMIT or -exponent > DECIMALS:
        raise InvalidWallet(f"{column} {text!r} does not fit NUMERIC(38,18)")
    return value
