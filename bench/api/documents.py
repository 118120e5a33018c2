"""What each system is sent: the bot's own documents, and PostGraphile's equivalents.

The service and the old design answer the contract's documents (tests/contract/
operations.graphql) unchanged. PostGraphile answers the same data through its generated schema:
the user by Telegram id, the ACTIVE positions newest first with their market, the derived
values and totals as computed columns (bench/api/data.py); markets by id through a set-returning
function; the trending page through `allMarkets` with its generated condition and orderBy.

Issue 12's reads, the same way: Claimable as two computed columns of the user (the totals, and
the positions in resolved markets in the contract's order, each with a computed payout); the
trade history through the generated relation with its orderBy and `first`; the smart-wallet
feed through a set-returning function with the contract's defaults, each trade's market and
outcome computed columns from its token, its wallet by the foreign key; the leaderboard
through `allWallets` with orderBy and `first` (PostGraphile has no rank: a first page's rank is
the place in it, which is what the agreement check compares).
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


POSTGRAPHILE_CLAIMABLE = """
query Claimable($telegramId: BigInt!) {
  appUserByTelegramId(telegramId: $telegramId) {
    id
    claimable { positionCount payout }
    claimablePositions {
      nodes {
        id
        outcome
        shares
        entryPrice
        payout
        marketByMarketId { id title resolved winningOutcome resolvedAt }
      }
    }
  }
}
"""

POSTGRAPHILE_TRADE_HISTORY = """
query TradeHistory($telegramId: BigInt!, $first: Int!) {
  appUserByTelegramId(telegramId: $telegramId) {
    tradesByUserId(first: $first, orderBy: [EXECUTED_AT_DESC, ID_DESC]) {
      edges {
        cursor
        node {
          id
          kind
          outcome
          shares
          price
          realizedPnl
          executedAt
          marketByMarketId { id title }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

POSTGRAPHILE_SMART_TRADES = """
query SmartTrades($first: Int!) {
  smartTrades(first: $first, orderBy: [EXECUTED_AT_DESC, ID_ASC]) {
    edges {
      cursor
      node {
        id
        outcome
        shares
        price
        value
        executedAt
        walletByWallet { address winRate smartscore }
        market { id title outcomePrices }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

POSTGRAPHILE_LEADERBOARD = """
query Leaderboard($first: Int!) {
  allWallets(orderBy: [SMARTSCORE_DESC, ADDRESS_ASC], first: $first) {
    nodes { address smartscore winRate marketsTraded realizedPnl }
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
