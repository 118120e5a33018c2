"""The ingestion worker: `python app.py ingest` runs `run_ingest(settings, ...)`.

Three loops share one event loop and one lock:

- the feed (shards.py): one connection per shard of at most INGEST_TOKENS_PER_CONNECTION tokens
  (connection.py); every frame is parsed (feed.py) and offered to the coalescer;
- the flush, every INGEST_FLUSH_INTERVAL on a fixed schedule (a steady stream of ticks cannot
  postpone it, unlike the old debounce): first the markets the feed said resolved
  (resolutions.py), then the coalesced prices, written by flush.py;
- the refresh, every INGEST_REFRESH_INTERVAL: which markets to follow (subscriptions.py), and
  the outbox sweep for triggers whose relay failed.

The lock keeps a refresh from landing in the middle of a flush, so the markets' last known
prices (used by markets of more than two outcomes) are never older than what a flush wrote, and
a refresh either sees a resolution committed or re-applies it while it is pending.

A `market_resolved` event closes its market at once (its pending ticks dropped, its later ones
untracked, its tokens unsubscribed), so the resolution written by the next flush is never
followed by a price of that market.

Stopping (SIGTERM, SIGINT) closes the feed first, then flushes what is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from prometheus_client import start_http_server

from cache.store import CacheStore
from cache.store import connect as connect_cache
from errors import Unavailable
from ingestion.coalescer import Coalescer
from ingestion.feed import parse_frame
from ingestion.flush import Flusher
from ingestion.resolutions import Resolutions
from ingestion.shards import Shards
from ingestion.subscriptions import tracked_markets
from settings import Settings
from sql.database import Database, create_pool
from telemetry.metrics import INGEST_MALFORMED
from writes.triggers import TriggerStream

log = logging.getLogger(__name__)

# Malformed frames are logged at most this often (each is counted); a flood of garbage must
# not become a flood of log lines.
MALFORMED_LOG_INTERVAL = 1.0
# Longest a flush may take before it is abandoned (and its prices kept for the next one).
MIN_FLUSH_TIMEOUT = 5.0


class Worker:
    """One process's feed connections, coalescer, flusher and subscriptions, wired together."""

    def __init__(self, settings: Settings, database: Database, cache: CacheStore) -> None:
        self.settings = settings
        self.database = database
        self.coalescer = Coalescer()
        timeout = max(MIN_FLUSH_TIMEOUT, 5 * settings.ingest_flush_interval)
        self.resolutions = Resolutions(database, cache, timeout=timeout)
        self.flusher = Flusher(
            database,
            cache,
            TriggerStream(cache, settings.trigger_stream_key),
            self.coalescer,
            timeout=timeout,
        )
        self.shards = Shards(
            settings.feed_url,
            self.on_frame,
            limit=settings.ingest_tokens_per_connection,
            ping_interval=settings.ingest_ping_interval,
        )
        self._lock = asyncio.Lock()
        self._malformed_since_log = 0
        self._malformed_logged_at = -MALFORMED_LOG_INTERVAL

    def on_frame(self, frame: str | bytes, received_at: float) -> None:
        try:
            parsed = parse_frame(frame)
        except Exception:  # a parser bug must not end the worker either
            log.exception("could not parse a feed frame")
            INGEST_MALFORMED.inc()
            return
        self.coalescer.offer(parsed.ticks, received_at)
        if parsed.resolutions:
            for resolved in parsed.resolutions:
                self.resolutions.add(resolved)
            self._follow()
        if parsed.malformed:
            INGEST_MALFORMED.inc(parsed.malformed)
            self._log_malformed(parsed.malformed, parsed.problem, frame)

    async def refresh(self) -> None:
        """Follow the markets the database says, now."""
        async with self._lock:
            markets = await tracked_markets(self.database, self.settings.ingest_top_markets)
            self.coalescer.track(markets)
            self._follow()

    def _follow(self) -> None:
        """Subscribe the shards to the markets the coalescer follows, less those with a
        resolution pending (what they tick now is moot)."""
        markets = {self.coalescer.market_of(token) for token in self.resolutions.tokens}
        self.coalescer.close(m for m in markets if m is not None)
        self.shards.replace(self.coalescer.markets)

    async def flush(self) -> None:
        async with self._lock:
            # Resolutions first: a flush's prices never go ahead of a resolution read before.
            resolutions = await self.resolutions.write()
            report = await self.flusher.flush()
        if resolutions.resolved or resolutions.rejected or resolutions.unknown:
            log.debug(
                "resolved %d markets from the feed (%d already, %d refused, %d unknown)",
                resolutions.resolved,
                resolutions.unchanged,
                resolutions.rejected,
                resolutions.unknown,
            )
        if report.markets or report.refused:
            log.debug(
                "flushed %d markets (%d refused, %d triggered) in %d statements",
                report.markets,
                report.refused,
                len(report.triggered),
                report.statements,
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then the feed stops and what it delivered is flushed.

        A loop that ends on its own is a bug: the worker then stops the same way and raises it,
        so the process exits with an error (and is restarted) rather than limping on.
        """
        closing = asyncio.Event()
        feed = asyncio.create_task(self.shards.run(), name="feed")
        refresher = asyncio.create_task(self._refresh_loop(), name="refresh")
        flusher = asyncio.create_task(self._flush_loop(closing), name="flush")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait(
                {stopping, feed, refresher, flusher}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stopping, feed, refresher):
                task.cancel()
            await asyncio.gather(stopping, feed, refresher, return_exceptions=True)
            # No tick can arrive now: the flush loop's last flush writes everything pending.
            closing.set()
            await flusher
        for task in (feed, refresher):
            if not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"the {task.get_name()} loop failed") from task.exception()

    async def _refresh_loop(self) -> None:
        interval = self.settings.ingest_refresh_interval
        while True:
            try:
                await self.refresh()
            except Unavailable:  # keep the set we have; the pool logged the outage
                pass
            except Exception as error:  # keep the set we have
                log.warning("could not refresh subscriptions: %s: %s", type(error).__name__, error)
            else:
                async with self._lock:
                    await self.flusher.sweep(self.settings.trigger_retry_after)
            await asyncio.sleep(interval)

    async def _flush_loop(self, closing: asyncio.Event) -> None:
        # A fixed schedule: flush n starts at start + n * interval, or at once if the previous
        # one overran (never two at a time, never a backlog of missed flushes).
        interval = self.settings.ingest_flush_interval
        next_at = time.monotonic() + interval
        while not closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), max(0.0, next_at - time.monotonic()))
            await self.flush()
            next_at = max(next_at + interval, time.monotonic())
        if self.flusher.receipts:
            await self.flush()  # the last flush's receipts
        if len(self.coalescer):
            log.error("stopped with %d tokens' prices unwritten", len(self.coalescer))
        if len(self.resolutions):
            log.error("stopped with %d market resolutions unwritten", len(self.resolutions))

    def _log_malformed(self, count: int, problem: str | None, frame: str | bytes) -> None:
        self._malformed_since_log += count
        now = time.monotonic()
        if now - self._malformed_logged_at < MALFORMED_LOG_INTERVAL:
            return
        log.warning(
            "malformed feed data (%d since the last report): %s; frame starts %r",
            self._malformed_since_log,
            problem,
            frame[:120],
        )
        self._malformed_since_log = 0
        self._malformed_logged_at = now


async def run_ingest(settings: Settings, database_url: str, redis_url: str) -> None:
    """The worker's process: pool, cache store, metrics port, signals, then `Worker.run`."""
    pool = await create_pool(database_url, settings)
    cache = connect_cache(settings, redis_url)
    if settings.ingest_metrics_port:
        start_http_server(settings.ingest_metrics_port, addr=settings.host)
        log.info("metrics on http://%s:%d/metrics", settings.host, settings.ingest_metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "ingesting %s: flush every %.2fs, top %d markets, %d tokens per connection",
        settings.feed_url,
        settings.ingest_flush_interval,
        settings.ingest_top_markets,
        settings.ingest_tokens_per_connection,
    )
    try:
        await Worker(settings, Database(pool, settings.pool_acquire_timeout), cache).run(stop)
    finally:
        await cache.close()
        await pool.close()
        log.info("ingestion stopped")
