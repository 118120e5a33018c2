-- updateMarketPrices (and the ingestion worker): sets the outcome prices of each market in $1
-- to the matching entry of $2, a PostgreSQL array literal such as '{0.35,0.65}'; stamps
-- prices_updated_at. Returns the ids of the markets updated. A resolved market is left as it is
-- (its prices, 1 for the winner and 0 otherwise, are final): the mutation refuses it, and the
-- ingestion worker's prices for it, arriving until it stops following the market, change nothing.
-- One statement for any number of markets: parallel arrays unnested into rows, since a
-- parameter cannot be an array of arrays of different lengths. Each id must appear once
-- (UPDATE ... FROM picks an arbitrary row among duplicates), and the prices must already be
-- checked: the cast to numeric(13,12) would round a thirteenth decimal.
UPDATE market AS m
SET outcome_prices = u.prices::numeric(13, 12)[], prices_updated_at = now()
FROM unnest($1::text[], $2::text[]) AS u (id, prices)
WHERE m.id = u.id AND NOT m.resolved
RETURNING m.id
