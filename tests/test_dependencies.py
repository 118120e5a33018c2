"""Every third-party module the code imports comes from a distribution pyproject.toml declares.

A module that only arrives as another package's dependency (`cross_web` through Strawberry) is
gone, or changed under us, the day that package stops needing it; so the service's code may
import only what `dependencies` names, the tests also `dev`, the benchmarks also `bench`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from settings import ROOT
from tests.imports import OURS, imported

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The bot's client (client/) is a distribution of its own: its package declares what it
# imports in client/pyproject.toml, its generator (client/generate.py) runs on the pins of
# client/codegen-requirements.txt, and the tests import it from the checkout like our own.
CLIENT = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())["project"]
CODEGEN = [
    line
    for line in (ROOT / "client" / "codegen-requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
CLIENT_PACKAGES = {"polycool_client"}
SKIPPED = {".venv", ".venv-codegen", ".data", "node_modules", ".git", "graphiql", "docs"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def names(requirements: list[str]) -> set[str]:
    return {normalized(re.split(r"[=<>!~\[ ;]", r, maxsplit=1)[0]) for r in requirements}


def declared(*extras: str) -> set[str]:
    requirements = list(PROJECT["dependencies"])
    for extra in extras:
        requirements += PROJECT["optional-dependencies"][extra]
    return names(requirements)


def python_files(*folders: str, exclude: tuple[str, ...] = ()) -> list[Path]:
    roots = [ROOT / folder for folder in folders] if folders else [ROOT]
    return [
        path
        for root in roots
        for path in root.rglob("*.py")
        if not SKIPPED & set(path.relative_to(ROOT).parts)
        and path.relative_to(ROOT).parts[0] not in exclude
    ]


@pytest.mark.parametrize(
    ("files", "allowed"),
    [
        (python_files(exclude=("tests", "bench", "client")), declared()),
        (python_files("tests"), declared("dev")),
        (python_files("bench"), declared("dev", "bench")),
        (python_files("client"), names(CLIENT["dependencies"]) | names(CODEGEN)),
    ],
    ids=["service", "tests", "bench", "client"],
)
def test_every_imported_distribution_is_declared(files: list[Path], allowed: set[str]) -> None:
    distributions = packages_distributions()
    undeclared = {}
    for module, where in imported(files).items():
        if (
            module in sys.stdlib_module_names
            or module in OURS | CLIENT_PACKAGES
            or module == "__future__"
        ):
            continue
        # Not installed here (the bench extra in a dev venv): its name is its distribution's.
        providers = {normalized(d) for d in distributions.get(module, [module])}
        if not providers & allowed:
            undeclared[module] = (sorted(providers), sorted(where)[:3])
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
