-- Cache warming at start: the ids of the most traded markets ($1 of them), open or not.
-- Ids only: the markets are then read through the cache like any other read, so the versions
-- are seen before the rows are (see cache/read_through.py) and a warm fill can never be stale.
SELECT id
FROM market
ORDER BY volume DESC, id
LIMIT $1
