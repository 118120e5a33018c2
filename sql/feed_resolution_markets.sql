-- The ingestion worker (ingestion/resolutions.py), for the market_resolved events of one flush:
-- each market whose condition id is in $1 (the feed names markets by condition id), with its
-- outcomes and token ids, aligned, to find the outcome whose token won. A condition id no market
-- has gives no row. One statement for every event of the flush; the resolution itself then goes
-- through resolve_markets (writes/resolutions.py), which reads and locks the markets again:
-- this read only translates the event, and judges nothing.
SELECT m.condition_id, m.id, m.outcomes, m.clob_token_ids
FROM market AS m
WHERE m.condition_id = ANY($1::text[])
