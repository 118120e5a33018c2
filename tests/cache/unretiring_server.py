"""`python app.py serve` whose wallet writes retire nothing: the two-process freshness control.

`python -m tests.cache.unretiring_server` serves `create_app(Settings.from_env(os.environ))`
with uvicorn in one process, as `serve` does, after pointing writes/wallets.py's two scopes at
one no read uses. The service itself has no such switch: it lives here, in tests/.
"""

from __future__ import annotations

import os

import uvicorn

import writes.wallets
from app import create_app
from cache.keys import Scope
from settings import Settings
from telemetry.logs import configure_logging


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    nowhere = Scope("wallet", "retires-nothing")
    for name in ("WALLET_FEED", "WALLET_STATS"):
        setattr(writes.wallets, name, nowhere)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
