"""The old price streamer, rebuilt for the benchmark only (never run in production).

Its design, as the issue describes it: one global debounce timer, restarted by every tick,
fires 10 s after the last tick; it then drains the pending tokens one by one, each costing
several statements (find the token's market, write its prices, read its positions' levels, and
one more per level that fired) and one cache invalidation, then replaces the pending map. So
under steady ticks it never writes, a tick that arrives during a drain is lost when the map is
replaced, and the load on PostgreSQL grows with the number of tokens, not the number of flushes.

To compare designs rather than parsers or sockets, it reuses the new worker's frame parser
(ingestion/feed.py) and connection (ingestion/connection.py), and counts its statements and
ticks in the same Prometheus metrics, served on INGEST_METRICS_PORT.
Run: `python -m bench.old_streamer` with the worker's environment (DATABASE_URL, REDIS_URL,
FEED_URL, INGEST_TOP_MARKETS, INGEST_METRICS_PORT, CACHE_PREFIX).
"""

from __future__ import annotations

import asyncio
import os
import signal
from decimal import Decimal

from prometheus_client import start_http_server

from cache.keys import Scope
from cache.store import CacheStore
from cache.store import connect as connect_cache
from ingestion.connection import FeedConnection
from ingestion.feed import parse_frame
from ingestion.subscriptions import Subscriptions, tracked_markets
from settings import Settings
from sql.database import Database, create_pool
from telemetry.logs import configure_logging
from telemetry.metrics import INGEST_TICKS

DEBOUNCE_SECONDS = 10.0

MARKET_OF_TOKEN = """
SELECT id, clob_token_ids FROM market WHERE clob_token_ids @> ARRAY[$1::text]
"""
WRITE_PRICES = """
UPDATE market SET outcome_prices = $2::numeric(13, 12)[], prices_updated_at = now() WHERE id = $1
"""
LEVELS = """
SELECT p.id, p.take_profit_price, p.stop_loss_price,
       m.outcome_prices[array_position(m.outcomes, p.outcome)] AS price
FROM position AS p JOIN market AS m ON m.id = p.market_id
WHERE p.market_id = $1 AND p.status = 'ACTIVE'
  AND (p.take_profit_price IS NOT NULL OR p.stop_loss_price IS NOT NULL)
"""
CONSUME_TAKE_PROFIT = "UPDATE position SET take_profit_price = NULL WHERE id = $1"
CONSUME_STOP_LOSS = "UPDATE position SET stop_loss_price = NULL WHERE id = $1"


class OldStreamer:
    def __init__(self, database: Database, cache: CacheStore) -> None:
        self.database = database
        self.cache = cache
        self.pending: dict[str, Decimal] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._drains: set[asyncio.Task[None]] = set()

    def on_frame(self, frame: str | bytes, received_at: float) -> None:
        ticks = parse_frame(frame).ticks
        INGEST_TICKS.inc(len(ticks))
        loop = asyncio.get_running_loop()
        for token, price in ticks:
            self.pending[token] = price
            # The old debounce: every tick pushes the one global timer back.
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(DEBOUNCE_SECONDS, self._fire)

    def stop(self) -> None:
        """Cancel the pending debounce (the benchmark's tick-path run)."""
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        task = asyncio.create_task(self.drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def drain(self) -> None:
        pending = self.pending
        for token in list(pending):
            price = pending[token]
            market = await self.database.fetchrow(MARKET_OF_TOKEN, token)
            if market is None:
                continue
            index = list(market["clob_token_ids"]).index(token)
            prices = [price, 1 - price] if index == 0 else [1 - price, price]
            await self.database.execute(WRITE_PRICES, market["id"], [str(p) for p in prices])
            for level in await self.database.fetch(LEVELS, market["id"]):
                if level["take_profit_price"] is not None and (
                    level["price"] >= level["take_profit_price"]
                ):
                    await self.database.execute(CONSUME_TAKE_PROFIT, level["id"])
                if level["stop_loss_price"] is not None and (
                    level["price"] <= level["stop_loss_price"]
                ):
                    await self.database.execute(CONSUME_STOP_LOSS, level["id"])
            await self.cache.bump([Scope("market", market["id"])])
        # The old bug, kept: ticks that arrived during the drain are dropped with the map.
        self.pending = {}


async def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    assert settings.database_url is not None
    assert settings.redis_url is not None
    pool = await create_pool(settings.database_url, settings)
    cache = connect_cache(settings, settings.redis_url)
    database = Database(pool)
    if settings.ingest_metrics_port:
        start_http_server(settings.ingest_metrics_port, addr=settings.host)
    streamer = OldStreamer(database, cache)
    subscriptions = Subscriptions()
    markets = await tracked_markets(database, settings.ingest_top_markets)
    subscriptions.replace(t for m in markets for t in m.token_ids)
    connection = FeedConnection(
        settings.feed_url,
        subscriptions,
        streamer.on_frame,
        ping_interval=settings.ingest_ping_interval,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    feed = asyncio.create_task(connection.run())
    await stop.wait()
    feed.cancel()
    await asyncio.gather(feed, return_exceptions=True)
    await cache.close()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
