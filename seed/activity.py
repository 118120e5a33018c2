"""The demo after `seed`: settled markets, trades and wallet trades, sent through the API.

`seed` leaves a database the contract describes (no market resolved, no trade recorded, no
wallet trade), so every new screen would be empty after `make run`. This step plays what the
bot and the price workers would send, as GraphQL mutations through the service's own app
(`app.py demo` hands it a client), so every rule, trade row and cache scope is the mutations'
own: the demo user buys the favourite of a market about to settle, and buys and sells a trending
market; the nearly settled markets with the most holders resolve to their favourite; watched
wallets buy trending markets. Only the choice of markets and wallets reads the database
directly (no query of the API lists markets by holders). The same seed picks the same markets,
wallets and amounts; trade times are the time of the run, as the mutations record them.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from seed.demo import SETTLED

SETTLING_MARKETS = 8
WALLET_TRADES = 40

# Nearly settled (one outcome at SETTLED or more), open, held ACTIVE by the most users.
SETTLING = """
SELECT m.id, m.outcomes, m.outcome_prices, count(DISTINCT p.user_id) AS holders
FROM market m JOIN position p ON p.market_id = m.id AND p.status = 'ACTIVE'
WHERE NOT m.resolved AND m.outcome_prices IS NOT NULL AND $2 <= ANY (m.outcome_prices)
GROUP BY m.id
ORDER BY holders DESC, m.id
LIMIT $1
"""
# The demo user's nearly settled markets settle too, so their Claimable shows a loser as well.
USER_SETTLING = """
SELECT DISTINCT m.id, m.outcomes, m.outcome_prices
FROM market m JOIN position p ON p.market_id = m.id AND p.status = 'ACTIVE'
JOIN app_user u ON u.id = p.user_id
WHERE u.telegram_id = $1 AND NOT m.resolved AND $2 <= ANY (m.outcome_prices)
ORDER BY m.id
"""
# The demo user, whose variables GraphiQL's tabs carry (seed/demo.py): the first one seeded.
FIRST_USER = "SELECT telegram_id FROM app_user ORDER BY id LIMIT 1"
TRENDING = """
SELECT id, outcomes, outcome_prices, clob_token_ids FROM market
WHERE active AND NOT resolved AND outcome_prices IS NOT NULL
  AND 0.05 < ALL (outcome_prices) AND 0.95 > ALL (outcome_prices)
ORDER BY volume DESC, id
LIMIT 20
"""
WALLETS = """
SELECT address FROM wallet WHERE win_rate >= 0.55 ORDER BY smartscore DESC, address LIMIT 20
"""

RECORD_TRADE = """
mutation DemoTrade($input: RecordTradeInput!) { recordTrade(input: $input) { position { id } } }
"""
RESOLVE = """
mutation DemoResolve($resolutions: [MarketResolutionInput!]!) {
  resolveMarkets(resolutions: $resolutions) { resolved rejected { marketId reason } }
}
"""
WALLET_TRADES_DOCUMENT = """
mutation DemoWalletTrades($trades: [WalletTradeInput!]!) {
  recordWalletTrades(trades: $trades) { recorded duplicates rejected { id reason } }
}
"""

Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class DemoReport:
    telegram_id: str | None
    trades: int
    resolved: int
    wallet_trades: int

    def __str__(self) -> str:
        return (
            f"demo: {self.trades} trades of user {self.telegram_id}, {self.resolved} markets "
            f"resolved, {self.wallet_trades} wallet trades"
        )


async def play_demo(connection: asyncpg.Connection, send: Send, *, seed: int) -> DemoReport:
    """Send the demo's mutations through `send` (a GraphQL call that raises on any error)."""
    rng = random.Random(seed)
    settling = list(await connection.fetch(SETTLING, SETTLING_MARKETS, SETTLED))
    trending = list(await connection.fetch(TRENDING))
    telegram_id = await connection.fetchval(FIRST_USER)
    trades = 0
    if telegram_id is not None:
        trades = await _demo_user_trades(send, str(telegram_id), settling[:1], trending[:1])
    chosen = {row["id"]: row for row in settling}
    for row in await connection.fetch(USER_SETTLING, telegram_id, SETTLED):
        chosen.setdefault(row["id"], row)
    resolutions = [
        {"marketId": market_id, "winningOutcome": _favourite(row)[0]}
        for market_id, row in sorted(chosen.items())
    ]
    resolved = (await send(RESOLVE, {"resolutions": resolutions}))["resolveMarkets"]["resolved"]
    wallets = [row["address"] for row in await connection.fetch(WALLETS)]
    recorded = await _wallet_trades(send, rng, wallets, trending)
    return DemoReport(
        telegram_id=None if telegram_id is None else str(telegram_id),
        trades=trades,
        resolved=resolved,
        wallet_trades=recorded,
    )


async def _demo_user_trades(
    send: Send, telegram_id: str, settling: list[asyncpg.Record], trending: list[asyncpg.Record]
) -> int:
    """A buy of a favourite about to settle (a winner to claim), a buy and a sale of a
    trending market (a history with a realized P&L)."""
    trades = []
    for row in settling:
        outcome, price = _favourite(row)
        trades.append((row["id"], outcome, "BUY", Decimal("100"), price))
    for row in trending:
        outcome, price = row["outcomes"][0], row["outcome_prices"][0]
        trades.append((row["id"], outcome, "BUY", Decimal("50"), price))
        trades.append((row["id"], outcome, "SELL", Decimal("20"), min(price + Decimal("0.05"), 1)))
    for market_id, outcome, side, shares, price in trades:
        variables = {
            "input": {
                "telegramId": telegram_id,
                "marketId": market_id,
                "outcome": outcome,
                "side": side,
                "shares": str(shares),
                "price": str(price),
            }
        }
        await send(RECORD_TRADE, variables)
    return len(trades)


async def _wallet_trades(
    send: Send, rng: random.Random, wallets: list[str], trending: list[asyncpg.Record]
) -> int:
    if not wallets or not trending:
        return 0
    now = datetime.now(UTC)
    entries = []
    for index in range(WALLET_TRADES):
        market = rng.choice(trending)
        outcome = rng.randrange(len(market["outcomes"]))
        price: Decimal = market["outcome_prices"][outcome]
        # Most trades clear the feed's default minimum value (300); some do not, as in life.
        value = Decimal(rng.randrange(100, 5_000))
        entries.append(
            {
                "id": f"demo-{index:04d}",
                "wallet": rng.choice(wallets),
                "tokenId": market["clob_token_ids"][outcome],
                "side": "BUY" if rng.random() < 0.9 else "SELL",
                "shares": str((value / price).quantize(Decimal("0.01"))),
                "price": str(price.normalize()),
                "executedAt": (now - timedelta(minutes=7 * index)).isoformat(),
            }
        )
    answer = (await send(WALLET_TRADES_DOCUMENT, {"trades": entries}))["recordWalletTrades"]
    recorded: int = answer["recorded"]
    return recorded


def _favourite(row: asyncpg.Record) -> tuple[str, Decimal]:
    prices: list[Decimal] = row["outcome_prices"]
    best = max(range(len(prices)), key=prices.__getitem__)
    return row["outcomes"][best], prices[best]
