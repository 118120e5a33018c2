"""What the settlement tests share: a position opened through recordTrade, levels through
setTpSl, markets resolved through resolveMarkets, as the bot and the price workers send them."""

from __future__ import annotations

from typing import Any

from tests.conftest import Answer, GraphQLClient
from tests.writes.conftest import OwnMarket, User, run


async def buy(
    gql: GraphQLClient, user: User, market: OwnMarket, outcome: str, shares: str, price: str
) -> int:
    """A BUY through recordTrade; the id of the position it opened or added to."""
    answer = await run(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": market.id,
            "outcome": outcome,
            "side": "BUY",
            "shares": shares,
            "price": price,
        },
    )
    return int(answer.data["recordTrade"]["position"]["id"])


async def sell(
    gql: GraphQLClient, user: User, market: OwnMarket, outcome: str, shares: str, price: str
) -> Answer:
    return await run(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": market.id,
            "outcome": outcome,
            "side": "SELL",
            "shares": shares,
            "price": price,
        },
    )


async def set_levels(
    gql: GraphQLClient, position_id: int, take_profit: str, stop_loss: str
) -> None:
    await run(
        gql,
        "SetTpSl",
        positionId=str(position_id),
        takeProfitPrice=take_profit,
        stopLossPrice=stop_loss,
    )


def resolution(market_id: str, winning_outcome: str) -> dict[str, Any]:
    return {"marketId": market_id, "winningOutcome": winning_outcome}


async def resolve(gql: GraphQLClient, *resolutions: dict[str, Any]) -> dict[str, Any]:
    """resolveMarkets; its payload."""
    answer = await run(gql, "ResolveMarkets", resolutions=list(resolutions))
    payload: dict[str, Any] = answer.data["resolveMarkets"]
    return payload
