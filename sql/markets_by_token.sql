-- MarketByTokenLoader: for each token id in $1, the id of the market whose clob_token_ids
-- holds it (the market itself is read through MarketLoader, cache first).
-- `@> ARRAY[token]` per token lets the GIN index on clob_token_ids answer each probe.
SELECT t.token_id AS key, m.id
FROM unnest($1::text[]) AS t (token_id)
JOIN market AS m ON m.clob_token_ids @> ARRAY[t.token_id]
