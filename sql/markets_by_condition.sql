-- cache/kinds.py MARKET_BY_CONDITION: for each condition id in $1 (unique per market), the id
-- of its market (the market itself is read as MARKET, cache first); `key` is the 1-based place
-- of the condition id in $1.
SELECT k.key, m.id
FROM unnest($1::text[]) WITH ORDINALITY AS k (condition_id, key)
JOIN market AS m ON m.condition_id = k.condition_id
