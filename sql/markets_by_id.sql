-- cache/kinds.py MARKET (MarketLoader, cache warming, the price writers' read-back): the
-- markets whose ids are in $1, each row with `key`, the 1-based place of its id in $1, as every
-- batched read answers (cache/kinds.py rows_by_key). One statement for a whole batch of
-- Position.market / markets(ids); an unknown id has no row. The resolution travels with the
-- prices, so a resolution retires it with the market's scope alone (Claimable reads it).
SELECT k.key, m.id, m.title, m.slug, m.condition_id, m.outcomes, m.outcome_prices,
       m.clob_token_ids, m.volume, m.liquidity, m.end_date, m.active, m.resolved,
       m.winning_outcome, m.resolved_at
FROM unnest($1::text[]) WITH ORDINALITY AS k (id, key)
JOIN market AS m ON m.id = k.id
