"""Databases of their own, for tests and benchmarks: created next to a server's, migrated, dropped.

Tests and benchmarks never touch data they did not make: each creates a database with a random
name on the server it is given, migrates it, and drops it (WITH FORCE) whatever happens.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from sql.migrate import migrate


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@asynccontextmanager
async def scratch_database(server_url: str, kind: str) -> AsyncIterator[str]:
    """A new, migrated, empty database named polycool_<kind>_<random>; yields its URL."""
    name = f"polycool_{kind}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    try:
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
        finally:
            await connection.close()
        yield url
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
