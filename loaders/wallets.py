"""Watched wallets by address, and leaderboard pages, for one request.

WalletLoader: key the lowercased address, value the Wallet or None when it is not watched.
LeaderboardLoader: key (statistic, how many), value the entries in rank order, each with its
wallet's statistics: a page is one statement and always agrees with the order it shows.
Both are cached under the one scope of the wallets' statistics (cache/keys.py WALLET_STATS),
which updateWalletStats retires, on every process at once.
"""

from __future__ import annotations

from typing import Any

from cache import kinds
from loaders.cached_loader import CachedLoader
from schema.wallet import LeaderboardEntry, Wallet, leaderboard_entry_from_row, wallet_from_row


class WalletLoader(CachedLoader[str, Wallet | None]):
    kind = kinds.WALLET

    def value(self, found: Any) -> Wallet | None:
        return None if found is None else wallet_from_row(found)


class LeaderboardLoader(CachedLoader[kinds.LeaderboardKey, list[LeaderboardEntry]]):
    kind = kinds.LEADERBOARD

    def value(self, found: Any) -> list[LeaderboardEntry]:
        return [leaderboard_entry_from_row(row) for row in found or ()]
