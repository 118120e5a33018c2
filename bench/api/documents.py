"""What each system is sent: the bot's own documents, and PostGraphile's equivalents.

The service and the old design answer the contract's documents (tests/contract/
operations.graphql) unchanged. PostGraphile answers the same data through its generated schema:
the user by Telegram id, the ACTIVE positions newest first with their market, the derived
values and totals as computed columns (bench/api/data.py); markets by id through a set-returning
function; the trending page through `allMarkets` with its generated condition and orderBy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from graphql import OperationDefinitionNode, parse, print_ast

from settings import ROOT

CONTRACT = ROOT / "tests" / "contract" / "operations.graphql"

POSTGRAPHILE_PORTFOLIO = """
query Portfolio($telegramId: BigInt!) {
  appUserByTelegramId(telegramId: $telegramId) {
    id
    telegramId
    username
    portfolio { positionCount invested value pnl pnlPercent }
    positionsByUserId(condition: {status: ACTIVE}, orderBy: [OPENED_AT_DESC, ID_DESC]) {
      nodes {
        id
        outcome
        shares
        entryPrice
        currentPrice
        value
        pnl
        pnlPercent
        takeProfitPrice
        stopLossPrice
        openedAt
        marketByMarketId { id title slug outcomes outcomePrices endDate resolved }
      }
    }
  }
}
"""

POSTGRAPHILE_MARKETS_BATCH = """
query MarketsBatch($ids: [String]!) {
  marketsByIds(ids: $ids) { nodes { id title outcomes outcomePrices volume liquidity } }
}
"""

POSTGRAPHILE_TRENDING = """
query TrendingMarkets($first: Int!) {
  allMarkets(
    condition: {active: true, resolved: false}, orderBy: [VOLUME_DESC, ID_ASC], first: $first
  ) {
    edges { cursor node { id title volume liquidity outcomes outcomePrices endDate } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def contract_documents(path: Path = CONTRACT) -> dict[str, str]:
    """The contract's operations by name, each printed as a document of its own."""
    documents: dict[str, str] = {}
    for definition in parse(path.read_text()).definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name:
            documents[definition.name.value] = print_ast(definition)
    return documents


def body(query: str, variables: dict[str, Any], name: str | None = None) -> bytes:
    """A POST /graphql body on one line (wrk's request files hold one body per line)."""
    payload: dict[str, Any] = {"query": query, "variables": variables}
    if name is not None:
        payload["operationName"] = name
    return orjson.dumps(payload)
