-- PositionLoader: the positions whose ids are in $1.
SELECT id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
       realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
FROM position
WHERE id = ANY($1::bigint[])
