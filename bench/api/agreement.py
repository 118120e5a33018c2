"""Do the systems answer alike? The service's answer is the reference: the old design's must be
identical, byte for byte; PostGraphile's, through its own schema, the same user, positions,
markets and numbers (equal to one part in 10^12: its computed columns are NUMERIC arithmetic).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def agreement(answers: dict[str, Any]) -> list[str]:
    """One line per system: its answer (system key -> JSON) against the service's."""
    reference = answers.get("polycool")
    if reference is None:
        return ["not checked (the service was not run)"]
    lines = []
    for key, found in answers.items():
        if key == "polycool":
            continue
        if key == "postgraphile":
            problems = compare_postgraphile(reference, found)
            lines.append(
                "PostGraphile: the same user, positions, markets and numbers as the service"
                if not problems
                else "PostGraphile differs: " + "; ".join(problems[:5])
            )
        else:
            same = found == reference
            lines.append(
                f"{key}: {'identical JSON to' if same else '**differs from**'} the service's"
            )
    return lines


def compare_postgraphile(reference: Any, found: Any) -> list[str]:
    ours = reference["data"]["user"]
    theirs = found["data"]["appUserByTelegramId"]
    problems: list[str] = []

    def same(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return a is b
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        try:
            return abs(Decimal(a) - Decimal(b)) <= abs(Decimal(a)) * Decimal("1e-12")
        except ArithmeticError:
            return bool(a == b)

    for name in ("id", "telegramId", "username"):
        if ours[name] != theirs[name]:
            problems.append(f"user.{name}")
    for name, value in ours["portfolio"].items():
        if not same(value, theirs["portfolio"][name]):
            problems.append(f"portfolio.{name}: {value} vs {theirs['portfolio'][name]}")
    nodes = theirs["positionsByUserId"]["nodes"]
    if len(nodes) != len(ours["positions"]):
        problems.append(f"{len(ours['positions'])} positions vs {len(nodes)}")
    for mine, other in zip(ours["positions"], nodes, strict=False):
        for name, value in mine.items():
            if name == "market":
                for field, item in value.items():
                    if not same(item, other["marketByMarketId"][field]):
                        problems.append(f"position {mine['id']} market.{field}")
            elif name == "openedAt":
                if value != other[name]:
                    problems.append(f"position {mine['id']} openedAt")
            elif not same(value, other[name]):
                problems.append(f"position {mine['id']} {name}: {value} vs {other[name]}")
    return problems
