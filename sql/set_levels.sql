-- setTpSl: stores both levels of position $1 as the call leaves them, if the position is ACTIVE;
-- returns the position (the columns of positions_by_id), or no row when it is unknown or not
-- ACTIVE. With both levels sent this is the whole write; with one omitted, the caller first
-- read the row FOR UPDATE to merge the stored level.
UPDATE position
SET take_profit_price = $2::numeric, stop_loss_price = $3::numeric, updated_at = now()
WHERE id = $1::bigint AND status = 'ACTIVE'
RETURNING id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
          realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
