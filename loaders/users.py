"""Users by Telegram id, for one request.

Key: the Telegram id (int); value: the User, or None when no user has it. Cached per Telegram
id for an hour under a version that upsertUser bumps, so two users fetched with aliases cost
what one costs.
"""

from __future__ import annotations

from typing import Any

from cache import kinds
from loaders.cached_loader import CachedLoader
from schema.user import User, user_from_row


class UserLoader(CachedLoader[int, User | None]):
    kind = kinds.USER

    def value(self, found: Any) -> User | None:
        return None if found is None else user_from_row(found)
