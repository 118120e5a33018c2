-- updateMarketPrices: the outcomes of each market whose id is in $1, and whether it resolved, to
-- judge each update before anything is written (a resolved market's prices are final); unknown
-- ids have no row.
SELECT id, outcomes, resolved FROM market WHERE id = ANY($1::text[])
