-- updateMarketPrices (and the ingestion worker): after the prices of the markets in $1 were
-- written, fires the take-profit (price >= level) and stop-loss (price <= level) levels of
-- their ACTIVE positions, each against its outcome's price, and consumes each fired level (set
-- NULL) so it fires once. Returns (position_id, user_id, kind, price) per fired level, by
-- position id (the worker tells the user; a cache knows whose positions changed).
-- One statement: `fired` locks and judges the positions, in id order so that two workers
-- pricing the same markets cannot deadlock (a setTpSl at the same moment waits, or is waited
-- for and judged on what it left); the UPDATE consumes what fired. RETURNING would only see the
-- levels already cleared, hence the kinds are carried over from `fired`. Both levels cannot
-- fire together: a stop loss lies below its take profit.
WITH fired AS (
    SELECT p.id, p.user_id, o.price,
           o.price >= p.take_profit_price IS TRUE AS take_profit,
           o.price <= p.stop_loss_price IS TRUE AS stop_loss
    FROM position AS p
    JOIN market AS m ON m.id = p.market_id
    CROSS JOIN LATERAL
        (SELECT m.outcome_prices[array_position(m.outcomes, p.outcome)] AS price) AS o
    WHERE p.market_id = ANY($1::text[]) AND p.status = 'ACTIVE'
      AND (o.price >= p.take_profit_price OR o.price <= p.stop_loss_price)
    ORDER BY p.id
    FOR UPDATE OF p
),
consumed AS (
    UPDATE position AS p
    SET take_profit_price = CASE WHEN f.take_profit THEN NULL ELSE p.take_profit_price END,
        stop_loss_price = CASE WHEN f.stop_loss THEN NULL ELSE p.stop_loss_price END,
        updated_at = now()
    FROM fired AS f
    WHERE p.id = f.id
    RETURNING p.id, p.user_id, f.price, f.take_profit
)
SELECT id AS position_id, user_id,
       CASE WHEN take_profit THEN 'TAKE_PROFIT' ELSE 'STOP_LOSS' END AS kind,
       price
FROM consumed
ORDER BY id
