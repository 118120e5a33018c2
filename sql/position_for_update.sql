-- setTpSl: the position $1 (the columns of positions_by_id), locked until the transaction ends,
-- so the levels it checks against cannot change before its update; no row when unknown.
SELECT id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
       realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
FROM position
WHERE id = $1::bigint
FOR UPDATE
