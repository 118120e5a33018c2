-- MarketByConditionLoader: the markets whose condition ids are in $1 (unique per market).
SELECT condition_id AS key,
       id, title, slug, condition_id, outcomes, outcome_prices, clob_token_ids,
       volume, liquidity, end_date, active, resolved
FROM market
WHERE condition_id = ANY($1::text[])
