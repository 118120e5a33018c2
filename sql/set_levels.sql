-- setTpSl: stores both levels of position $1 as the call leaves them (the caller merged the
-- omitted ones from the locked row); returns the position (the columns of positions_by_id).
UPDATE position
SET take_profit_price = $2::numeric, stop_loss_price = $3::numeric, updated_at = now()
WHERE id = $1::bigint
RETURNING id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
          realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
