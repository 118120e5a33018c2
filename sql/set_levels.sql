-- setTpSl: stores both levels of position $1 as the call leaves them, if the position is ACTIVE
-- and its market not resolved; returns the position (the columns of positions_by_id), or no row
-- when it is unknown, not ACTIVE, or in a resolved market. With both levels sent this is the
-- whole write; with one omitted, the caller first read the row FOR UPDATE to merge the stored
-- level.
-- The market is locked FOR SHARE before the position (the EXISTS runs as the row is found,
-- before the UPDATE locks it): a resolution, which locks the market and then clears the levels
-- of its positions, either waits for this call and clears what it set, or commits first and
-- this call finds the market resolved. The same order (market, then position) as every writer,
-- so none can deadlock with another.
UPDATE position
SET take_profit_price = $2::numeric, stop_loss_price = $3::numeric, updated_at = now()
WHERE id = $1::bigint AND status = 'ACTIVE'
  AND EXISTS (SELECT FROM market AS m
              WHERE m.id = position.market_id AND NOT m.resolved
              FOR SHARE)
RETURNING id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
          realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
