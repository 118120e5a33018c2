"""The benchmark's answer check (bench/api/agreement.py) for issue 12's screens: PostGraphile's
answers, put in the contract's shape, agree with the service's when they hold the same data,
and each changed value is named."""

from __future__ import annotations

import copy
from typing import Any

from bench.api.agreement import agreement, compare_postgraphile_answer

OURS_LEADERBOARD: dict[str, Any] = {
    "data": {
        "leaderboard": [
            {
                "rank": n,
                "wallet": {
                    "address": f"0x{n:040x}",
                    "smartscore": str(100 - n),
                    "winRate": "0.6",
                    "marketsTraded": 10,
                    "realizedPnl": "12.5",
                },
            }
            for n in (1, 2)
        ]
    }
}
THEIRS_LEADERBOARD: dict[str, Any] = {
    "data": {
        "allWallets": {
            "nodes": [
                {
                    "address": f"0x{n:040x}",
                    # NUMERIC arithmetic spells numbers its own way: equal values agree.
                    "smartscore": f"{100 - n}.000000",
                    "winRate": "0.600000000000000000",
                    "marketsTraded": 10,
                    "realizedPnl": "12.500000000000000000",
                }
                for n in (1, 2)
            ]
        }
    }
}

OURS_TRADES: dict[str, Any] = {
    "data": {
        "user": {
            "trades": {
                "edges": [
                    {
                        "cursor": "ours",
                        "node": {
                            "id": "7",
                            "kind": "SELL",
                            "price": "0.5",
                            "executedAt": "2025-09-24T10:00:00+00:00",
                            "market": {"id": "m1", "title": "Will it?"},
                        },
                    }
                ],
                "pageInfo": {"hasNextPage": True, "endCursor": "ours"},
            }
        }
    }
}
THEIRS_TRADES: dict[str, Any] = {
    "data": {
        "appUserByTelegramId": {
            "tradesByUserId": {
                "edges": [
                    {
                        "cursor": "theirs",
                        "node": {
                            "id": 7,
                            "kind": "SELL",
                            "price": "0.500000000000",
                            "executedAt": "2025-09-24T10:00:00Z",
                            "marketByMarketId": {"id": "m1", "title": "Will it?"},
                        },
                    }
                ],
                "pageInfo": {"hasNextPage": True, "endCursor": "theirs"},
            }
        }
    }
}


def test_the_same_leaderboard_and_trades_agree_whatever_the_spelling() -> None:
    assert compare_postgraphile_answer("Leaderboard", OURS_LEADERBOARD, THEIRS_LEADERBOARD) == []
    assert compare_postgraphile_answer("TradeHistory", OURS_TRADES, THEIRS_TRADES) == []


def test_a_changed_value_or_order_is_named() -> None:
    swapped = copy.deepcopy(THEIRS_LEADERBOARD)
    swapped["data"]["allWallets"]["nodes"].reverse()
    problems = compare_postgraphile_answer("Leaderboard", OURS_LEADERBOARD, swapped)
    assert "Leaderboard.leaderboard[0].wallet.address" in " ".join(problems)

    later = copy.deepcopy(THEIRS_TRADES)
    node = later["data"]["appUserByTelegramId"]["tradesByUserId"]["edges"][0]["node"]
    node["executedAt"] = "2025-09-24T10:00:01Z"
    problems = compare_postgraphile_answer("TradeHistory", OURS_TRADES, later)
    assert problems == [
        "TradeHistory.user.trades.edges[0].node.executedAt: "
        "'2025-09-24T10:00:00+00:00' vs '2025-09-24T10:00:01Z'"
    ]


def test_the_old_design_must_answer_byte_for_byte() -> None:
    changed = copy.deepcopy(OURS_TRADES)
    changed["data"]["user"]["trades"]["edges"][0]["node"]["price"] = "0.50"
    lines = agreement({"polycool": {"TradeHistory": OURS_TRADES}, "old": {"TradeHistory": changed}})
    assert lines == ["old, TradeHistory: **differs from** the service's"]
