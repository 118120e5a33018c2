-- cache/kinds.py MARKET_BY_TOKEN: for each token id in $1, the id of the market whose
-- clob_token_ids holds it (the market itself is read as MARKET, cache first); `key` is the
-- 1-based place of the token in $1. `@> ARRAY[token]` per token lets the GIN index on
-- clob_token_ids answer each probe.
SELECT t.key, m.id
FROM unnest($1::text[]) WITH ORDINALITY AS t (token_id, key)
JOIN market AS m ON m.clob_token_ids @> ARRAY[t.token_id]
