-- setTpSl: the position $1 (the columns of positions_by_id) and whether its market resolved,
-- locked until the transaction ends, so the levels it checks against cannot change before its
-- update; no row when unknown. The market is locked FOR SHARE first (a scalar subquery of the
-- row, evaluated before the row is locked), in the order set_levels.sql explains.
SELECT id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
       realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at,
       (SELECT m.resolved FROM market AS m WHERE m.id = position.market_id FOR SHARE)
           AS market_resolved
FROM position
WHERE id = $1::bigint
FOR UPDATE OF position
