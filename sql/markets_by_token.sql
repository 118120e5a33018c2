-- MarketByTokenLoader: for each token id in $1, the market whose clob_token_ids holds it.
-- `@> ARRAY[token]` per token lets the GIN index on clob_token_ids answer each probe.
SELECT t.token_id AS key,
       m.id, m.title, m.slug, m.condition_id, m.outcomes, m.outcome_prices, m.clob_token_ids,
       m.volume, m.liquidity, m.end_date, m.active, m.resolved
FROM unnest($1::text[]) AS t (token_id)
JOIN market AS m ON m.clob_token_ids @> ARRAY[t.token_id]
