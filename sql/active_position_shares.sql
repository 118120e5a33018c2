-- recordTrade (SELL), only after sell_position.sql matched nothing: the shares of the user's
-- ACTIVE position on (market, outcome), or no row, so the error can say which case it was.
SELECT shares
FROM position
WHERE user_id = $1::bigint AND market_id = $2::text AND outcome = $3::text AND status = 'ACTIVE'
