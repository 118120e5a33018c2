-- MarketLoader: the markets whose ids are in $1, in any order (the loader puts them back in
-- the order asked for). One statement for a whole batch of Position.market / markets(ids).
SELECT id, title, slug, condition_id, outcomes, outcome_prices, clob_token_ids,
       volume, liquidity, end_date, active, resolved
FROM market
WHERE id = ANY($1::text[])
