"""Names of everything the service keeps in Redis, and the scopes that writes invalidate.

Why versions instead of deleting keys: a write cannot know every key that holds what it
changed (a user's positions are cached per status), and finding them would take KEYS or SCAN.
Instead every cached entry belongs to one *scope* (one market, one user's positions, one
Telegram profile, one position), each scope has a version key holding a random token, and an
entry is stored with the token it was filled under. A write sets a fresh token after its
transaction commits: every entry of that scope stops matching at once, and the orphans expire
on their own TTL.

Cluster: the hash tag of a key is its scope family and a bucket of its scope id, so an entry
and its scope's version always share a slot (one MGET reads both, one script checks and fills
both), and a batch needs at most BUCKETS commands per family, sent in one pipeline.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

BUCKETS = 16

Family = Literal["market", "user", "telegram", "position", "wallet"]


@dataclass(frozen=True)
class Scope:
    """What one write invalidates: e.g. Scope("market", "516706")."""

    family: Family
    id: str


def positions_scope(user_id: int, status: str) -> Scope:
    """One of a user's position lists: ACTIVE, CLOSED, or ALL of them. Apart, so that a write
    retires only the lists it changed (a buy leaves the history of CLOSED positions cached)."""
    return Scope("user", f"{user_id}:{status}")


# The watched wallets' shared reads, one scope each for every process: the feed of smart trades
# (retired by a recorded wallet trade and by new statistics, since the feed filters on the
# current win rate) and the statistics (the leaderboard and each wallet; new statistics).
WALLET_FEED = Scope("wallet", "feed")
WALLET_STATS = Scope("wallet", "stats")


def bucket(text: str) -> int:
    return zlib.crc32(text.encode()) % BUCKETS


def group_by_tag(names: list[str]) -> dict[str, list[str]]:
    """Key names grouped by their hash tag, in order: one MGET each, since a tag is one slot."""
    grouped: dict[str, list[str]] = {}
    for name in names:
        grouped.setdefault(name[name.index("{") : name.index("}") + 1], []).append(name)
    return grouped


@dataclass(frozen=True)
class KeyNames:
    prefix: str

    def tag(self, family: str, scope_id: str) -> str:
        return f"{{{family}:{bucket(scope_id)}}}"

    def version(self, scope: Scope) -> str:
        return f"{self.prefix}:{self.tag(scope.family, scope.id)}:version:{scope.id}"

    def entry(self, tag: str, kind: str, name: str) -> str:
        return f"{self.prefix}:{tag}:{kind}:{name}"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    def answer(self, digest: str) -> str:
        """A kept whole answer (cache/answers.py), by the digest of its question."""
        return f"{self.prefix}:{{answer:{bucket(digest)}}}:answer:{digest}"

    def persisted_document(self, digest: str) -> str:
        """A persisted query's document (web/persisted_queries.py), by its SHA-256."""
        return f"{self.prefix}:{{apq:{bucket(digest)}}}:document:{digest}"

    @property
    def refresh_lease(self) -> str:
        """Held by the one process re-reading the followed markets this round (cache/warm.py)."""
        return f"{self.prefix}:refresh-lease"

    @property
    def rate_limits(self) -> str:
        """The prefix of the `limits` package's counters (web/rate_limits.py)."""
        return f"{self.prefix}:rate"

    @property
    def triggers(self) -> str:
        """The stream of fired TP/SL levels, unless TRIGGER_STREAM names another."""
        return f"{self.prefix}:triggers"


def trades_scope(user_id: int) -> Scope:
    """Every cached page of a user's trade history: a new trade moves them all (a page is a
    keyset walk from the newest trade, so a new one shifts every page after it)."""
    return Scope("user", f"{user_id}:TRADES")
