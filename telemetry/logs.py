"""Logging as one JSON object per line, so the request line's fields (id, counts) survive.

The standard library keeps `extra=` fields as record attributes that a text format drops;
this formatter writes every field that is not one of logging's own.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    # What each record would gather and no line shows (the lines hold the fields above and the
    # extras only): the caller's frame, file and line; the thread, process and task. Switched
    # off as the logging HOWTO's "Optimization" section says: the request line costs a kept
    # answer about a fifth of its CPU in the server, and these a fifth of the line in a loop
    # (docs/benchmarks.md, "Optimisation steps").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if sys.version_info >= (3, 12):
        logging.logAsyncioTasks = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level, handlers=[handler], force=True)
