-- MarketByConditionLoader: the ids of the markets whose condition ids are in $1 (unique per
-- market); the markets themselves are read through MarketLoader, cache first.
SELECT condition_id AS key, id
FROM market
WHERE condition_id = ANY($1::text[])
