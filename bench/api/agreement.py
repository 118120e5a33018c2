"""Do the systems answer alike? The service's answer is the reference: the old design's must be
identical, byte for byte; PostGraphile's, through its own schema, the same user, positions,
markets and numbers (equal to one part in 10^12: its computed columns are NUMERIC arithmetic).

Compared per scenario: Portfolio 20 always, and issue 12's (Claimable, TradeHistory,
SmartTrades, Leaderboard) when the run measured them. For those, PostGraphile's answer is first
put in the contract's shape (its field names mapped to the contract's, rank the place in the
page), then compared field by field; cursors are each server's own and left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any


def agreement(answers: dict[str, dict[str, Any]]) -> list[str]:
    """One line per system and scenario: its answer (system key -> scenario key -> JSON)
    against the service's."""
    references = answers.get("polycool")
    if references is None:
        return ["not checked (the service was not run)"]
    lines = []
    for key, found in answers.items():
        if key == "polycool":
            continue
        for scenario, theirs in found.items():
            reference = references.get(scenario)
            if reference is None:
                continue
            if key == "postgraphile":
                problems = compare_postgraphile_answer(scenario, reference, theirs)
                lines.append(
                    f"PostGraphile, {scenario}: the same "
                    f"{WHAT.get(scenario, 'user, positions, markets and numbers')} as the service"
                    if not problems
                    else f"PostGraphile, {scenario}, **differs**: " + "; ".join(problems[:5])
                )
            else:
                same = theirs == reference
                lines.append(
                    f"{key}, {scenario}: "
                    f"{'identical JSON to' if same else '**differs from**'} the service's"
                )
    return lines


WHAT = {
    "Claimable": "totals, positions, payouts and markets",
    "TradeHistory": "trades, markets and next page",
    "SmartTrades": "trades, wallets, markets and next page",
    "Leaderboard": "wallets, statistics and ranks",
}


def compare_postgraphile_answer(scenario: str, reference: Any, found: Any) -> list[str]:
    if "errors" in reference or "errors" in found:
        return [f"errors: {reference.get('errors')} / {found.get('errors')}"]
    if scenario.startswith("Portfolio"):
        return compare_postgraphile(reference, found)
    reshape = RESHAPE.get(scenario)
    if reshape is None:
        return [f"no comparison for {scenario}"]
    problems: list[str] = []
    differences(reference["data"], reshape(found["data"]), scenario, problems)
    return problems


def _claimable(data: Any) -> Any:
    user = data["appUserByTelegramId"]
    positions = [
        {**_without(node, "marketByMarketId"), "market": node["marketByMarketId"]}
        for node in user["claimablePositions"]["nodes"]
    ]
    return {"user": {"id": user["id"], "claimable": {**user["claimable"], "positions": positions}}}


def _trade_history(data: Any) -> Any:
    page = data["appUserByTelegramId"]["tradesByUserId"]
    edges = [
        {
            "node": {
                **_without(e["node"], "marketByMarketId"),
                "market": e["node"]["marketByMarketId"],
            }
        }
        for e in page["edges"]
    ]
    return {"user": {"trades": {"edges": edges, "pageInfo": page["pageInfo"]}}}


def _smart_trades(data: Any) -> Any:
    page = data["smartTrades"]
    edges = [
        {"node": {**_without(e["node"], "walletByWallet"), "wallet": e["node"]["walletByWallet"]}}
        for e in page["edges"]
    ]
    return {"smartTrades": {"edges": edges, "pageInfo": page["pageInfo"]}}


def _leaderboard(data: Any) -> Any:
    nodes = data["allWallets"]["nodes"]
    return {"leaderboard": [{"rank": n, "wallet": w} for n, w in enumerate(nodes, start=1)]}


def _without(node: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != name}


RESHAPE: dict[str, Callable[[Any], Any]] = {
    "Claimable": _claimable,
    "TradeHistory": _trade_history,
    "SmartTrades": _smart_trades,
    "Leaderboard": _leaderboard,
}
# Each server's own: opaque, signed differently.
UNCOMPARED = {"cursor", "endCursor"}


def differences(ours: Any, theirs: Any, path: str, problems: list[str]) -> None:
    """Every place where `theirs` lacks or changes what `ours` says (numbers equal to one part
    in 10^12, times equal as instants); extra fields of theirs are ignored."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            problems.append(f"{path}: {theirs!r} instead of an object")
            return
        for name, value in ours.items():
            if name in UNCOMPARED:
                continue
            if name not in theirs:
                problems.append(f"{path}.{name}: missing")
            else:
                differences(value, theirs[name], f"{path}.{name}", problems)
    elif isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            size = len(theirs) if isinstance(theirs, list) else theirs
            problems.append(f"{path}: {len(ours)} items vs {size}")
            return
        for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            differences(a, b, f"{path}[{n}]", problems)
    elif not _same_scalar(ours, theirs):
        problems.append(f"{path}: {ours!r} vs {theirs!r}")


def _same_scalar(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str) and a == b:
        return True
    try:
        return abs(Decimal(str(a)) - Decimal(str(b))) <= abs(Decimal(str(a))) * Decimal("1e-12")
    except ArithmeticError:
        pass
    try:
        return datetime.fromisoformat(str(a)) == datetime.fromisoformat(str(b))
    except ValueError:
        return False


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
