"""Shared fixtures: a fresh database per test session, on a real PostgreSQL.

With TEST_DATABASE_URL or DATABASE_URL set (CI: the machine's server) the tests create their own
database on that server and drop it at the end; they never touch another database. With neither,
they start the embedded PostgreSQL (pgserver) under .data/test, as the service would.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from embedded import start_postgres
from settings import ROOT
from sql.migrate import migrate


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    return url or start_postgres(Path(ROOT / ".data" / "test"))


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A new, migrated, empty database for this test session; dropped afterwards."""
    name = f"polycool_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    yield url
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
