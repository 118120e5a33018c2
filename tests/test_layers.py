"""Data flows one way: HTTP -> schema -> resolvers -> loaders -> cache -> SQL, never back up.

The lower packages must not import the upper ones: when cache/warm.py imported loaders/, the
ingestion worker and every write loaded the GraphQL types (and Strawberry) to warm a market.
Each package below lists what it may import of ours; the test reads every import, top-level
or not, and the worker's process is checked for the GraphQL modules it must not load.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from settings import ROOT
from tests.imports import OURS, imported

BOTTOM = {"settings", "errors", "domain", "telemetry"}
# package -> the packages of ours it may import (itself included)
ALLOWED: dict[str, set[str]] = {
    "telemetry": {"telemetry"},
    "domain": {"domain", "errors"},
    "sql": {"sql", *BOTTOM},
    "cache": {"cache", "sql", *BOTTOM},
    "writes": {"writes", "cache", "sql", *BOTTOM},
    "ingestion": {"ingestion", "writes", "cache", "sql", *BOTTOM},
    "seed": {"seed", "sql", "schema", *BOTTOM},  # the enum of position statuses
    "loaders": {"loaders", "cache", "sql", "schema", *BOTTOM},
}


def imports_of(package: str) -> dict[str, set[str]]:
    """Our top-level packages the files of `package` import -> the files importing them."""
    found = imported((ROOT / package).rglob("*.py"))
    return {name: files for name, files in found.items() if name in OURS}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_nothing_above_it(package: str) -> None:
    above = {
        name: sorted(files)
        for name, files in imports_of(package).items()
        if name not in ALLOWED[package]
    }
    assert not above, f"{package}/ imports what sits above it: {above}"


def test_the_worker_and_the_writes_load_no_graphql() -> None:
    script = (
        "import sys, ingestion.worker, writes.prices, cache.warm;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('strawberry', 'graphql', 'schema', 'resolvers', 'loaders', 'web')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
