"""Users and positions generated on top of the real markets: the same seed gives the same rows.

Every draw comes from the one `random.Random` passed in, in a fixed order, and every time is an
offset from BASE_TIME (never now()), so the output depends on the seed and the snapshot alone.
Prices, shares and money are drawn as whole numbers of their smallest step and turned into
Decimal, so no float ever becomes a stored value; floats only decide yes/no questions.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

from seed.snapshot import SnapshotMarket

BASE_TIME = datetime(2025, 9, 25, tzinfo=UTC)

# Telegram ids: old accounts are below 2^31, recent ones pass 2^32 (hence bigint).
TELEGRAM_ID_MIN = 100_000
TELEGRAM_ID_MAX = 8_000_000_000
USERNAME_SHARE = 0.85  # Telegram users may have no username.
POLYGON_ADDRESS_SHARE = 0.3
ACCOUNT_AGE_MINUTES = (2 * 24 * 60, 365 * 24 * 60)

# 1 to 20 positions, k with weight 1/k: most users hold a handful (mean 5.6, so 10,000 users
# hold about 115,000 positions with the heavy users' share).
POSITION_COUNTS = range(1, 21)
POSITION_COUNT_CUM_WEIGHTS = list(itertools.accumulate(1 / count for count in POSITION_COUNTS))
HEAVY_POSITIONS_PER_USER = (200, 1000)
HEAVY_USER_SHARE = 100  # one user in a hundred
ACTIVE_MARKET_SHARE = 0.9
CLOSED_SHARE = 0.15
TARGET_SHARE = 0.2  # active positions with a take-profit and/or a stop-loss
# Redraws before an active position whose (market, outcome) the user already holds is closed
# instead: a small snapshot could otherwise loop forever.
UNIQUE_ATTEMPTS = 10

PRICE_STEP = Decimal("0.0001")
SHARE_STEP = Decimal("0.01")
ENTRY_MIN = 10  # 0.001 in price steps
ENTRY_MAX = 9990  # 0.999
TARGET_RANGE = 3000  # take-profit, stop-loss and exit prices lie within 0.3 of the entry
STEPS = 10_000  # 1 in price steps
MAX_SPREAD = 500  # 0.05
MIN_SPREAD = 20  # 0.002

ADJECTIVES = ("swift", "lucky", "calm", "bold", "sharp", "quiet", "early", "wise", "bright")
NOUNS = ("trader", "whale", "oracle", "degen", "hedger", "bettor", "fox", "owl", "shark")

PositionStatus = Literal["ACTIVE", "CLOSED"]
# A market with its prices, known not to be None.
PricedMarket = tuple[SnapshotMarket, list[Decimal]]


# Rows are NamedTuples, not frozen dataclasses: as immutable, and twice as fast to build, which
# is a tenth of the time of 100k positions.
class SeedUser(NamedTuple):
    telegram_id: int
    username: str | None
    polygon_address: str | None
    created_at: datetime


class SeedPosition(NamedTuple):
    """A `position` row, naming its user by Telegram id until the user has a database id."""

    telegram_id: int
    market_id: str
    outcome: str
    status: PositionStatus
    shares: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    opened_at: datetime
    closed_at: datetime | None

    @property
    def updated_at(self) -> datetime:
        return self.closed_at or self.opened_at


def generate_users(count: int, rng: random.Random) -> list[SeedUser]:
    """`count` users with distinct Telegram ids, some above 2^32, some with a wallet."""
    if count < 0:
        raise ValueError(f"count is {count}, expected >= 0")
    users: list[SeedUser] = []
    taken: set[int] = set()
    while len(users) < count:
        telegram_id = rng.randrange(TELEGRAM_ID_MIN, TELEGRAM_ID_MAX)
        if telegram_id in taken:
            continue
        taken.add(telegram_id)
        username = None
        if rng.random() < USERNAME_SHARE:
            username = f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}{rng.randrange(1000)}"
        polygon_address = None
        if rng.random() < POLYGON_ADDRESS_SHARE:
            polygon_address = f"0x{rng.getrandbits(160):040x}"
        age = timedelta(minutes=rng.randint(*ACCOUNT_AGE_MINUTES))
        users.append(SeedUser(telegram_id, username, polygon_address, BASE_TIME - age))
    return users


def heavy_user_count(users: int) -> int:
    """How many of `users` hold hundreds of positions: 1%, and at least one from 20 users on."""
    return max(1, users // HEAVY_USER_SHARE) if users >= 20 else 0


def generate_positions(
    users: Sequence[SeedUser], markets: Sequence[SnapshotMarket], rng: random.Random
) -> Iterator[SeedPosition]:
    """Positions on priced markets: 1 to 20 per user, 200 to 1000 for about 1% of users.

    Lazy, so a COPY can send the first rows while the rest are drawn. The rows are the same
    however they are consumed, as long as nothing else draws from `rng` meanwhile.
    """
    priced = [(market, market.outcome_prices) for market in markets if market.outcome_prices]
    if users and not priced:
        raise ValueError("no market has prices: positions need a price to enter at")
    active = [(market, prices) for market, prices in priced if market.active]
    inactive = [(market, prices) for market, prices in priced if not market.active]
    heavy = set(rng.sample(range(len(users)), heavy_user_count(len(users))))
    return _positions(users, heavy, active, inactive, rng)


def _positions(
    users: Sequence[SeedUser],
    heavy: set[int],
    active: Sequence[PricedMarket],
    inactive: Sequence[PricedMarket],
    rng: random.Random,
) -> Iterator[SeedPosition]:
    for index, user in enumerate(users):
        if index in heavy:
            count = rng.randint(*HEAVY_POSITIONS_PER_USER)
        else:
            [count] = rng.choices(POSITION_COUNTS, cum_weights=POSITION_COUNT_CUM_WEIGHTS)
        yield from _positions_of(user, count, active, inactive, rng)


def _positions_of(
    user: SeedUser,
    count: int,
    active: Sequence[PricedMarket],
    inactive: Sequence[PricedMarket],
    rng: random.Random,
) -> list[SeedPosition]:
    positions: list[SeedPosition] = []
    # The partial unique index position_one_active: one ACTIVE row per (market, outcome).
    held: set[tuple[str, str]] = set()
    age_minutes = (BASE_TIME - user.created_at) // timedelta(minutes=1)
    for _ in range(count):
        closed = rng.random() < CLOSED_SHARE
        for _attempt in range(UNIQUE_ATTEMPTS):
            market, outcome, price = _pick_outcome(active, inactive, rng)
            key = (market.id, outcome)
            if closed or key not in held:
                break
        else:
            closed = True
        if not closed:
            held.add(key)
        entry = _entry_price(price, rng)
        shares = _shares(rng)
        # Opened after the account was created; closed before BASE_TIME.
        opened_minutes_ago = rng.randint(2, age_minutes)
        opened_at = BASE_TIME - timedelta(minutes=opened_minutes_ago)
        if closed:
            exit_price = _exit_price(entry, rng)
            held_for = timedelta(minutes=rng.randint(1, opened_minutes_ago - 1))
            position = SeedPosition(
                telegram_id=user.telegram_id,
                market_id=market.id,
                outcome=outcome,
                status="CLOSED",
                shares=Decimal(0),
                entry_price=entry,
                realized_pnl=(exit_price - entry) * shares,
                take_profit_price=None,
                stop_loss_price=None,
                opened_at=opened_at,
                closed_at=opened_at + held_for,
            )
        else:
            take_profit, stop_loss = _targets(entry, rng)
            position = SeedPosition(
                telegram_id=user.telegram_id,
                market_id=market.id,
                outcome=outcome,
                status="ACTIVE",
                shares=shares,
                entry_price=entry,
                realized_pnl=Decimal(0),
                take_profit_price=take_profit,
                stop_loss_price=stop_loss,
                opened_at=opened_at,
                closed_at=None,
            )
        positions.append(position)
    return positions


def _pick_outcome(
    active: Sequence[PricedMarket], inactive: Sequence[PricedMarket], rng: random.Random
) -> tuple[SnapshotMarket, str, Decimal]:
    """A market (active nine times in ten), one of its outcomes, and that outcome's price."""
    prefer_active = rng.random() < ACTIVE_MARKET_SHARE
    pool = active if (prefer_active and active) or not inactive else inactive
    market, prices = rng.choice(pool)
    index = rng.randrange(len(market.outcomes))
    return market, market.outcomes[index], prices[index]


def _entry_price(current: Decimal, rng: random.Random) -> Decimal:
    """Near `current`: within 0.05, and within half the way to 0 or 1 when nearly settled."""
    # Whole price steps: integer arithmetic is exact and several times faster than Decimal's.
    current_steps = int(current.quantize(PRICE_STEP) / PRICE_STEP)
    spread = min(MAX_SPREAD, max(MIN_SPREAD, min(current_steps, STEPS - current_steps) // 2))
    steps = current_steps + rng.randint(-spread, spread)
    return min(max(steps, ENTRY_MIN), ENTRY_MAX) * PRICE_STEP


def _shares(rng: random.Random) -> Decimal:
    # Mostly small tickets (1 to 200 shares), some up to 5,000.
    most = 20_000 if rng.random() < 0.7 else 500_000
    return rng.randint(100, most) * SHARE_STEP


def _exit_price(entry: Decimal, rng: random.Random) -> Decimal:
    """Within 0.3 of `entry` but never equal, so a closed position's realized P&L is not zero."""
    entry_steps = int(entry / PRICE_STEP)
    low = max(1, entry_steps - TARGET_RANGE)
    high = min(STEPS - 1, entry_steps + TARGET_RANGE)
    steps = rng.randint(low, high - 1)
    if steps >= entry_steps:
        steps += 1
    return steps * PRICE_STEP


def _targets(entry: Decimal, rng: random.Random) -> tuple[Decimal | None, Decimal | None]:
    """(take_profit, stop_loss) with 0 < stop_loss < entry < take_profit < 1, or Nones."""
    if rng.random() >= TARGET_SHARE:
        return None, None
    entry_steps = int(entry / PRICE_STEP)
    kind = rng.choice(("both", "take_profit", "stop_loss"))
    take_profit = stop_loss = None
    if kind != "stop_loss":
        high = min(STEPS - 1, entry_steps + TARGET_RANGE)
        take_profit = rng.randint(entry_steps + 1, high) * PRICE_STEP
    if kind != "take_profit":
        low = max(1, entry_steps - TARGET_RANGE)
        stop_loss = rng.randint(low, entry_steps - 1) * PRICE_STEP
    return take_profit, stop_loss
