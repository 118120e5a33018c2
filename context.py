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

from cache.read_through import CacheSession
from settings import Settings
from sql.database import Database
from telemetry.metrics import RequestCounts

if TYPE_CHECKING:
    # Only named here: loaders import the schema types, whose resolvers import this module.
    from loaders import Loaders


@dataclass
class Context:
    request: Request
    response: Response
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


Info: TypeAlias = strawberry.Info[Context, None]
