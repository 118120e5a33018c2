-- syncPositions: for each token id in $1 that a market holds, that market and the outcome the
-- token stands for (outcomes and clob_token_ids are aligned), and whether the market resolved
-- (the sync then leaves that holding alone). Unknown tokens have no row.
-- One statement for the whole snapshot; `@> ARRAY[token]` lets the GIN index on clob_token_ids
-- answer each probe.
SELECT t.token_id, m.id AS market_id,
       m.outcomes[array_position(m.clob_token_ids, t.token_id)] AS outcome, m.resolved
FROM unnest($1::text[]) AS t (token_id)
JOIN market AS m ON m.clob_token_ids @> ARRAY[t.token_id]
