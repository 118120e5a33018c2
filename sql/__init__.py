"""The service's SQL, one statement per file, each exposed as a constant named after its file.

A typo in a name is a mypy error, and "go to definition" lands here, next to the file's name.
"""

from pathlib import Path
from typing import Final

_FOLDER = Path(__file__).resolve().parent


def _read(name: str) -> str:
    return (_FOLDER / name).read_text()


# Batched reads, one per kind of cached data (cache/kinds.py): arrays in, each row with `key`.
MARKETS_BY_ID: Final = _read("markets_by_id.sql")
MARKETS_BY_TOKEN: Final = _read("markets_by_token.sql")
MARKETS_BY_CONDITION: Final = _read("markets_by_condition.sql")
TRENDING_MARKETS: Final = _read("trending_markets.sql")
SEARCH_MARKETS: Final = _read("search_markets.sql")
USERS_BY_TELEGRAM_ID: Final = _read("users_by_telegram_id.sql")
POSITIONS_BY_ID: Final = _read("positions_by_id.sql")
POSITIONS_BY_USER: Final = _read("positions_by_user.sql")
TOP_MARKETS: Final = _read("top_markets.sql")  # cache warming

# Writes, used by writes/ (each mutation runs its statements in one transaction).
UPSERT_USER: Final = _read("upsert_user.sql")
BUY_POSITION: Final = _read("buy_position.sql")
SELL_POSITION: Final = _read("sell_position.sql")
ACTIVE_POSITION_SHARES: Final = _read("active_position_shares.sql")
POSITION_FOR_UPDATE: Final = _read("position_for_update.sql")
SET_LEVELS: Final = _read("set_levels.sql")
USER_FOR_SYNC: Final = _read("user_for_sync.sql")
OUTCOMES_BY_TOKEN: Final = _read("outcomes_by_token.sql")
APPLY_POSITION_SNAPSHOT: Final = _read("apply_position_snapshot.sql")
MARKET_OUTCOMES_BY_ID: Final = _read("market_outcomes_by_id.sql")
UPDATE_MARKET_PRICES: Final = _read("update_market_prices.sql")
TRIGGER_LEVELS: Final = _read("trigger_levels.sql")

# Triggered levels' outbox (writes/triggers.py), relayed to the trading service's stream.
DELETE_RELAYED_TRIGGERS: Final = _read("delete_relayed_triggers.sql")
UNRELAYED_TRIGGERS: Final = _read("unrelayed_triggers.sql")

# The ingestion worker (ingestion/).
TRACKED_MARKETS: Final = _read("tracked_markets.sql")

# Settlement and trade history: resolveMarkets (also the ingestion worker), redeemPositions,
# and the trades read by trades(first, after).
MARKETS_FOR_RESOLUTION: Final = _read("markets_for_resolution.sql")
RESOLVE_MARKETS: Final = _read("resolve_markets.sql")
TRADES_BY_USER: Final = _read("trades_by_user.sql")
POSITIONS_FOR_REDEMPTION: Final = _read("positions_for_redemption.sql")
REDEEM_POSITIONS: Final = _read("redeem_positions.sql")

# Watched wallets: the smart-wallet feed and the leaderboard (cache/kinds.py), and their writes
# (writes/wallets.py).
SMART_TRADES: Final = _read("smart_trades.sql")
LEADERBOARD: Final = _read("leaderboard.sql")
WALLETS_BY_ADDRESS: Final = _read("wallets_by_address.sql")
WALLET_TRADE_FACTS: Final = _read("wallet_trade_facts.sql")
INSERT_WALLET_TRADES: Final = _read("insert_wallet_trades.sql")
UPSERT_WALLET_STATS: Final = _read("upsert_wallet_stats.sql")
