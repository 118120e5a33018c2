"""The per-request context: what resolvers may use, with fresh loaders for every request.

Its own module because resolvers import the `Info` type and app.py imports the schema: keeping
it apart breaks what would be an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from cache.read_through import CacheSession
from cache.trigger_feed import TriggerFeed
from settings import Settings
from sql.database import Database
from telemetry.metrics import RequestCounts

if TYPE_CHECKING:
    # Only named here: loaders import the schema types, whose resolvers import this module.
    from loaders import Loaders


@dataclass
class Context:
    request: Request | WebSocket  # a WebSocket for a subscription's connection
    response: Response | WebSocket
    settings: Settings
    database: Database
    cache: CacheSession
    loaders: Loaders
    request_id: str
    counts: RequestCounts = field(default_factory=RequestCounts)
    # Set by the X-Debug-Counts header outside production: the response carries `counts`.
    debug_counts: bool = False
    # The caller's role (web/api_keys.py); None when the API runs open (development, test).
    role: str | None = None
    # A subscription's: the process's reader of the trigger stream (app.state.triggers), and the
    # payload of the connection's `connection_init` (Strawberry sets it; the key may be in it).
    triggers: TriggerFeed | None = None
    connection_params: dict[str, object] | None = None


Info: TypeAlias = strawberry.Info[Context, None]
