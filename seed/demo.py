"""The demo user: the first user `python app.py seed` makes with its defaults (`make run`'s).

GraphiQL's tabs open with this user's variables, so a click answers with real rows. They are
drawn again from the generator (the same seed gives the same rows), not read from the database:
the page is built when the service starts, before anything may be seeded, and costs no
statement. Ids follow from how `seed` loads: it restarts the identities and copies the positions
in the order they are drawn, so the n-th position drawn has id n.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from seed.generate import SeedPosition, SeedUser, generate_positions, generate_users
from seed.load import DEFAULT_SNAPSHOT, DEFAULT_WALLETS
from seed.snapshot import SnapshotMarket, read_snapshot
from seed.wallets import read_wallets

# `python app.py seed`'s defaults (its --users and --seed), which `make run` uses.
DEFAULT_USERS = 500
DEFAULT_SEED = 1
# A price from which `app.py demo` counts a market as nearly settled (seed/activity.py).
SETTLED = Decimal("0.99")


@dataclass(frozen=True)
class DemoPosition:
    id: str
    row: SeedPosition
    market: SnapshotMarket


@dataclass(frozen=True)
class Demo:
    user: SeedUser
    # The user's positions as drawn, with their ids; ACTIVE first, then CLOSED, each in order.
    positions: list[DemoPosition]

    @property
    def active(self) -> list[DemoPosition]:
        return [p for p in self.positions if p.row.status == "ACTIVE"]


def demo_user(
    users: int = DEFAULT_USERS, seed: int = DEFAULT_SEED, snapshot: Path = DEFAULT_SNAPSHOT
) -> Demo:
    """The first user `seed` makes, with its positions (only the first user's are drawn)."""
    parsed = read_snapshot(snapshot)
    markets = {market.id: market for market in parsed.markets}
    rng = random.Random(seed)
    seed_users = generate_users(users, rng)
    if not seed_users:
        raise ValueError("seed makes no user")
    first = seed_users[0]
    positions: list[DemoPosition] = []
    for number, row in enumerate(generate_positions(seed_users, parsed.markets, rng), start=1):
        if row.telegram_id != first.telegram_id:
            break  # the first user's positions are drawn first, all together
        positions.append(DemoPosition(str(number), row, markets[row.market_id]))
    positions.sort(key=lambda p: p.row.status != "ACTIVE")
    return Demo(first, positions)


def demo_variables(demo: Demo) -> dict[str, dict[str, object]]:
    """Variables of the contract's operations, by operation name, for the demo user: the
    queries read its rows; the mutations are ones that change little (its own username again,
    its holdings as they are, its market's prices as they are, one share bought)."""
    telegram_id = str(demo.user.telegram_id)
    held = demo.active or demo.positions
    position = held[0]
    market = position.market
    outcome = position.row.outcome
    prices = market.outcome_prices or []
    price = prices[market.outcomes.index(outcome)] if prices else Decimal("0.5")
    settling = [
        p for p in demo.active if any(price >= SETTLED for price in p.market.outcome_prices or [])
    ]
    wallet = read_wallets(DEFAULT_WALLETS)[0][0]
    levels = {
        name: _plain(level)
        for name, level in (
            ("takeProfitPrice", position.row.take_profit_price),
            ("stopLossPrice", position.row.stop_loss_price),
        )
        if level is not None
    }
    return {
        "Portfolio": {"telegramId": telegram_id},
        "PositionHistory": {"telegramId": telegram_id},
        "PositionDetail": {"id": position.id},
        "MarketsBatch": {"ids": [market.id, "0"]},  # "0": no such market, so null
        "MarketByToken": {"tokenId": market.clob_token_ids[0]},
        "MarketByCondition": {"conditionId": market.condition_id},
        "TrendingMarkets": {"first": 5, "after": None},
        "SearchMarkets": {"text": market.title.split()[-1].strip("?"), "first": 5},
        "UpsertUser": {"input": {"telegramId": telegram_id, "username": demo.user.username}},
        "RecordTrade": {
            "input": {
                "telegramId": telegram_id,
                "marketId": market.id,
                "outcome": outcome,
                "side": "BUY",
                "shares": "1",
                "price": _plain(price),
            }
        },
        "SetTpSl": {"positionId": position.id, **levels},
        "SyncPositions": {
            "telegramId": telegram_id,
            "positions": [
                {
                    "tokenId": p.market.clob_token_ids[p.market.outcomes.index(p.row.outcome)],
                    "shares": _plain(p.row.shares),
                    "avgPrice": _plain(p.row.entry_price),
                }
                for p in demo.active
            ],
        },
        "UpdateMarketPrices": {
            "updates": [{"marketId": market.id, "outcomePrices": [_plain(p) for p in prices]}]
        },
        "Triggers": {"after": None},
        # The documents others add: the demo user where they name one.
        "Claimable": {"telegramId": telegram_id},
        "TradeHistory": {"telegramId": telegram_id, "first": 10, "after": None},
        "SmartTrades": {"first": 10, "after": None},
        "Leaderboard": {"by": "REALIZED_PNL", "first": 10},
        # `app.py demo` (seed/activity.py) resolves the demo user's nearly settled markets to
        # their favourite: the tab redeems those positions; resolving them again to the same
        # outcome changes nothing, nor does the activity's first wallet trade sent again (its id
        # is stored) or the first watched wallet's statistics sent as the file has them.
        "RedeemPositions": {
            "telegramId": telegram_id,
            "positionIds": [p.id for p in settling] or [position.id],
        },
        "ResolveMarkets": {
            "resolutions": [
                {"marketId": p.market.id, "winningOutcome": _favourite(p.market)} for p in settling
            ]
            or [{"marketId": market.id, "winningOutcome": _favourite(market)}]
        },
        "RecordWalletTrades": {
            "trades": [
                {
                    "id": "demo-0000",
                    "wallet": wallet.address,
                    "tokenId": market.clob_token_ids[0],
                    "side": "BUY",
                    "shares": "1",
                    "price": _plain(prices[0] if prices else Decimal("0.5")),
                    "executedAt": "2025-09-25T00:00:00+00:00",
                }
            ]
        },
        "UpdateWalletStats": {
            "wallets": [
                {
                    "address": wallet.address,
                    "smartscore": _plain(wallet.smartscore),
                    "winRate": _plain(wallet.win_rate),
                    "marketsTraded": wallet.markets_traded,
                    "realizedPnl": _plain(wallet.realized_pnl),
                }
            ]
        },
    }


def _favourite(market: SnapshotMarket) -> str:
    prices = market.outcome_prices or []
    if not prices:
        return market.outcomes[0]
    return market.outcomes[max(range(len(prices)), key=prices.__getitem__)]


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
