"""Coalescing: the latest price of every followed token, until the next flush takes them.

A burst sends a token many prices within a second; only the last one matters, so each tick
replaces the token's pending price (newer ticks win) and the map never holds more entries than
the worker follows tokens: ticks of other tokens are dropped and counted. A flush `take`s the
map and assembles one full price list per market:

- every outcome ticked: those prices;
- a two-outcome market where one token ticked: the other outcome is 1 - p;
- more outcomes: the untouched ones keep the market's last known prices (read at refresh,
  then what the flushes wrote); with none known the set is incomplete and refused.

The sum check refuses a set whose prices do not add up to about 1 (1 +/- 0.01 per outcome:
0.98 to 1.02 for two): those ticks are dropped and the market keeps its last good prices
until a consistent set arrives. A flush that fails `restore`s what it took, except where a
newer tick has arrived since, so the next flush writes the newest price of every token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from ingestion.feed import Tick
from telemetry.metrics import INGEST_TICKS, INGEST_TICKS_COALESCED, INGEST_TICKS_UNTRACKED

SUM_TOLERANCE_PER_OUTCOME = Decimal("0.01")
_ONE = Decimal(1)


class Pending(NamedTuple):
    price: Decimal
    # Arrival (time.monotonic) of the token's oldest tick not yet written: the tick-to-commit
    # lag is measured from here, so coalescing cannot hide how long a price waited.
    first_seen: float


@dataclass(frozen=True)
class TrackedMarket:
    """A market the worker follows: its token ids in outcome order, its current prices."""

    id: str
    token_ids: tuple[str, ...]
    prices: tuple[Decimal, ...] | None


@dataclass
class Batch:
    """What one flush writes, and what it took to build it."""

    prices: dict[str, list[Decimal]] = field(default_factory=dict)
    # Per market written: the arrival of its oldest tick in this batch.
    first_seen: dict[str, float] = field(default_factory=dict)
    # The pending entries behind `prices`, put back if the flush fails.
    taken: dict[str, Pending] = field(default_factory=dict)
    # (market id, reason) for each market whose set was refused; its ticks are dropped.
    refused: list[tuple[str, str]] = field(default_factory=list)


class Coalescer:
    def __init__(self) -> None:
        self._slots: dict[str, tuple[str, int]] = {}  # token id -> (market id, outcome index)
        self._outcomes: dict[str, int] = {}  # market id -> number of outcomes
        self._known: dict[str, list[Decimal]] = {}  # market id -> last prices read or written
        self._pending: dict[str, Pending] = {}

    def track(self, markets: Iterable[TrackedMarket]) -> None:
        """Follow exactly these markets; pending prices of tokens no longer followed go."""
        slots: dict[str, tuple[str, int]] = {}
        outcomes: dict[str, int] = {}
        known: dict[str, list[Decimal]] = {}
        for market in markets:
            for index, token in enumerate(market.token_ids):
                slots[token] = (market.id, index)
            outcomes[market.id] = len(market.token_ids)
            if market.prices is not None and len(market.prices) == len(market.token_ids):
                known[market.id] = list(market.prices)
        self._slots, self._outcomes, self._known = slots, outcomes, known
        self._pending = {t: p for t, p in self._pending.items() if t in slots}

    def close(self, market_ids: Iterable[str]) -> None:
        """Stop following these markets now (they resolved): their pending prices go, and their
        later ticks are dropped as untracked until a refresh says otherwise."""
        closed = set(market_ids) & self._outcomes.keys()
        if not closed:
            return
        self._slots = {t: slot for t, slot in self._slots.items() if slot[0] not in closed}
        for market in closed:
            del self._outcomes[market]
            self._known.pop(market, None)
        self._pending = {t: p for t, p in self._pending.items() if t in self._slots}

    def market_of(self, token: str) -> str | None:
        slot = self._slots.get(token)
        return None if slot is None else slot[0]

    @property
    def markets(self) -> dict[str, list[str]]:
        """Market id -> its token ids in outcome order, for every market followed."""
        markets: dict[str, list[str]] = {m: [""] * n for m, n in self._outcomes.items()}
        for token, (market, index) in self._slots.items():
            markets[market][index] = token
        return markets

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(self._slots)

    def __len__(self) -> int:
        """Tokens with a price waiting for the next flush."""
        return len(self._pending)

    def offer(self, ticks: list[Tick], received_at: float) -> None:
        """The ticks of one frame, in order, received at `received_at` (time.monotonic)."""
        slots, pending = self._slots, self._pending
        coalesced = untracked = 0
        for token, price in ticks:
            if token not in slots:
                untracked += 1
                continue
            previous = pending.get(token)
            if previous is None:
                pending[token] = Pending(price, received_at)
            else:
                coalesced += 1
                pending[token] = Pending(price, previous.first_seen)
        INGEST_TICKS.inc(len(ticks))
        if coalesced:
            INGEST_TICKS_COALESCED.inc(coalesced)
        if untracked:
            INGEST_TICKS_UNTRACKED.inc(untracked)

    def take(self) -> Batch:
        """Empty the map into one batch: a full, checked price list per changed market."""
        taken, self._pending = self._pending, {}
        ticked: dict[str, dict[int, Decimal]] = {}
        batch = Batch(taken=taken)
        for token, entry in taken.items():
            market, index = self._slots[token]
            ticked.setdefault(market, {})[index] = entry.price
            seen = batch.first_seen.get(market)
            if seen is None or entry.first_seen < seen:
                batch.first_seen[market] = entry.first_seen
        for market, prices in ticked.items():
            assembled = self._assemble(market, prices)
            if isinstance(assembled, str):
                batch.refused.append((market, assembled))
                del batch.first_seen[market]
            else:
                batch.prices[market] = assembled
        return batch

    def restore(self, batch: Batch) -> None:
        """After a failed flush: its prices wait again, unless a newer tick replaced them."""
        refused = {market for market, _ in batch.refused}
        coalesced = 0
        for token, entry in batch.taken.items():
            slot = self._slots.get(token)
            if slot is None or slot[0] in refused:
                continue
            newer = self._pending.get(token)
            if newer is None:
                self._pending[token] = entry
            else:
                coalesced += 1
                self._pending[token] = Pending(newer.price, entry.first_seen)
        if coalesced:
            INGEST_TICKS_COALESCED.inc(coalesced)

    def written(self, batch: Batch) -> None:
        """After a committed flush: its prices are the markets' last known ones."""
        for market, prices in batch.prices.items():
            if market in self._outcomes:
                self._known[market] = prices

    def _assemble(self, market: str, ticked: dict[int, Decimal]) -> list[Decimal] | str:
        """The market's full price list, or why it is refused."""
        count = self._outcomes[market]
        if count == 2 and len(ticked) == 1:
            [(index, price)] = ticked.items()
            # Exact: 1 - p has no more decimals than p, and the pair sums to 1.
            return [price, _ONE - price] if index == 0 else [_ONE - price, price]
        if len(ticked) == count:
            prices = [ticked[i] for i in range(count)]
        else:
            known = self._known.get(market)
            if known is None:
                return f"{count - len(ticked)} of {count} outcomes have no price"
            prices = [ticked.get(i, known[i]) for i in range(count)]
        total = sum(prices, Decimal(0))
        if abs(total - _ONE) > SUM_TOLERANCE_PER_OUTCOME * count:
            return f"prices {', '.join(map(str, prices))} sum to {total}"
        return prices
