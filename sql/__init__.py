"""The service's SQL, one statement per file, each exposed as a constant named after its file.

A typo in a name is a mypy error, and "go to definition" lands here, next to the file's name.
"""

from pathlib import Path
from typing import Final

_FOLDER = Path(__file__).resolve().parent


def _read(name: str) -> str:
    return (_FOLDER / name).read_text()


# Reads, one per loader.
MARKETS_BY_ID: Final = _read("markets_by_id.sql")
MARKETS_BY_TOKEN: Final = _read("markets_by_token.sql")
MARKETS_BY_CONDITION: Final = _read("markets_by_condition.sql")
TRENDING_MARKETS: Final = _read("trending_markets.sql")
SEARCH_MARKETS: Final = _read("search_markets.sql")
USERS_BY_TELEGRAM_ID: Final = _read("users_by_telegram_id.sql")
POSITIONS_BY_ID: Final = _read("positions_by_id.sql")
POSITIONS_BY_USER: Final = _read("positions_by_user.sql")
TOP_MARKETS: Final = _read("top_markets.sql")  # cache warming

# Writes, used by mutations/ (each mutation runs its statements in one transaction).
