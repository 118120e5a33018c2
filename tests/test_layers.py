"""Data flows one way: HTTP -> schema -> resolvers -> loaders -> cache -> SQL, never back up.

The lower packages must not import the upper ones: when cache/warm.py imported loaders/, the
ingestion worker and every write loaded the GraphQL types (and Strawberry) to warm a market.
Each package below lists what it may import of ours; the test reads every import, top-level
or not, and the worker's process is checked for the GraphQL modules it must not load.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from settings import ROOT

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
OURS = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def imports_of(package: str) -> dict[str, set[str]]:
    """Our top-level packages each file of `package` imports -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in OURS:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


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
