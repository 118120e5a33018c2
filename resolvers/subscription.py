"""Resolvers of Subscription's fields: the bot's live events, read from the trigger stream.

`after` is checked before the first event (a forged id, or one older than the stream keeps, is
BAD_USER_INPUT as the subscription's error, not a closed socket): the resolver is a coroutine
that validates and then hands back the stream's iterator.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal

import strawberry

from cache.trigger_feed import TriggerFeed
from context import Info
from domain.trigger_ids import StreamId, decode_event_id, encode_event_id
from errors import BadUserInput
from schema.enums import TriggerKind
from schema.trigger import TriggerEvent

log = logging.getLogger(__name__)


async def triggers(info: Info, after: str | None = None) -> AsyncIterator[TriggerEvent]:
    feed, secret = info.context.triggers, info.context.settings.cursor_secret
    assert feed is not None  # the WebSocket's context always has it (web/view.py)
    if after is None:
        return _events(feed, await feed.last_id(), secret)
    start = decode_event_id(after, feed.key, secret)
    if not await feed.keeps_after(start):
        raise BadUserInput(
            "after: the events after this id are no longer kept; subscribe without `after` "
            "and read the positions' levels again.",
            field="after",
        )
    return _events(feed, start, secret)


async def _events(feed: TriggerFeed, start: StreamId, secret: str) -> AsyncIterator[TriggerEvent]:
    async for entry in feed.events(start):
        fields = entry.fields
        if not fields.get("telegram_id"):  # an outbox row naming no known user: no one to tell
            log.warning("trigger %s names no user; not sent", fields.get("trigger_id"))
            continue
        yield TriggerEvent(
            id=encode_event_id(entry.id, feed.key, secret),
            position_id=strawberry.ID(fields["position_id"]),
            telegram_id=strawberry.ID(fields["telegram_id"]),
            market_id=strawberry.ID(fields["market_id"]),
            kind=TriggerKind(fields["kind"]),
            price=Decimal(fields["price"]),
            fired_at=datetime.fromisoformat(fields["fired_at"]),
        )
