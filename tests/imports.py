"""What the project's own files import, read from their source (test_layers, test_dependencies)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from settings import ROOT

# The checkout's own top-level modules and packages (app, web, cache...).
OURS = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def imported(files: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level modules imported by `files` (absolute imports, nested ones too) -> the files
    importing each, relative to the checkout."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found
