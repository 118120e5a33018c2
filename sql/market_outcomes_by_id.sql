-- updateMarketPrices: the outcomes of each market whose id is in $1, to judge each update's
-- price count before anything is written; unknown ids have no row.
SELECT id, outcomes FROM market WHERE id = ANY($1::text[])
