-- The ingestion worker's subscriptions (ingestion/subscriptions.py), every refresh: the markets
-- whose prices it keeps fresh, with their token ids (aligned with their outcomes) and current
-- prices. Those are every market holding an ACTIVE position (their values and TP/SL depend on
-- it) and the $1 most traded open markets (what the bot lists), ids ascending; never a resolved
-- market (its prices are final, 1 and 0, though its positions stay ACTIVE until redeemed).
-- One statement, two index walks: position_active_by_market and market_trending. The worker
-- keeps token -> (market, outcome) in memory from this, so a flush never reads markets.
SELECT m.id, m.clob_token_ids, m.outcome_prices
FROM market AS m
WHERE NOT m.resolved
  AND (
      m.id IN (SELECT market_id FROM position WHERE status = 'ACTIVE')
      OR m.id IN (
          SELECT id FROM market
          WHERE active AND NOT resolved
          ORDER BY volume DESC, id
          LIMIT $1
      )
  )
ORDER BY m.id
