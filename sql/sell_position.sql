-- recordTrade (SELL): takes $4 shares sold at $5 from the user's ACTIVE position on
-- (market, outcome) and adds (price - entry price) x shares to realized_pnl; with fewer than
-- $6 shares left (dust) the position closes: shares 0, levels cleared, closed_at set.
-- Returns the position (the columns of positions_by_id), or no row when there is no ACTIVE
-- position holding at least $4 shares. The guard sits in the WHERE of the UPDATE: a concurrent
-- sell waits for the row lock, then the guard is evaluated again on the row it left, so two
-- sells can never take more than was held.
UPDATE position AS p SET
    shares = CASE WHEN p.shares - $4::numeric < $6::numeric THEN 0
                  ELSE p.shares - $4::numeric END,
    realized_pnl = p.realized_pnl + ($5::numeric - p.entry_price) * $4::numeric,
    status = CASE WHEN p.shares - $4::numeric < $6::numeric THEN 'CLOSED'
                  ELSE 'ACTIVE' END::position_status,
    closed_at = CASE WHEN p.shares - $4::numeric < $6::numeric THEN now() END,
    take_profit_price = CASE WHEN p.shares - $4::numeric < $6::numeric THEN NULL
                             ELSE p.take_profit_price END,
    stop_loss_price = CASE WHEN p.shares - $4::numeric < $6::numeric THEN NULL
                           ELSE p.stop_loss_price END,
    updated_at = now()
WHERE p.user_id = $1::bigint AND p.market_id = $2::text AND p.outcome = $3::text
  AND p.status = 'ACTIVE' AND p.shares >= $4::numeric
RETURNING id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
          realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
