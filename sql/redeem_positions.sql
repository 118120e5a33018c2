-- redeemPositions: closes each position in $1 as a sale of its $3 shares (as locked and judged
-- by positions_for_redemption.sql) at the payout price in $2 (1 for the winning outcome, 0
-- otherwise): realized_pnl grows by (payout price - entry price) x shares, shares 0, CLOSED,
-- closed_at set, levels cleared; and writes one REDEEM trade per position with the P&L it added.
-- Returns the positions (the columns of positions_by_id), in id order.
-- One statement whatever the number of positions; RETURNING shows the shares after the update
-- (0), hence the shares redeemed come in $3.
WITH redeemed AS (
    UPDATE position AS p
    SET realized_pnl = p.realized_pnl + (r.price - p.entry_price) * r.shares,
        shares = 0, status = 'CLOSED', closed_at = now(),
        take_profit_price = NULL, stop_loss_price = NULL, updated_at = now()
    FROM unnest($1::bigint[], $2::numeric[], $3::numeric[]) AS r (id, price, shares)
    WHERE p.id = r.id AND p.status = 'ACTIVE'
    RETURNING p.id, p.user_id, p.market_id, p.outcome, p.status::text AS status, p.shares,
              p.entry_price, p.realized_pnl, p.take_profit_price, p.stop_loss_price,
              p.opened_at, p.closed_at, r.price AS payout_price, r.shares AS redeemed_shares
),
traded AS (
    INSERT INTO trade (user_id, market_id, position_id, kind, outcome, shares, price, realized_pnl)
    SELECT user_id, market_id, id, 'REDEEM', outcome, redeemed_shares, payout_price,
           (payout_price - entry_price) * redeemed_shares
    FROM redeemed
    ORDER BY id
)
SELECT id, user_id, market_id, outcome, status, shares, entry_price, realized_pnl,
       take_profit_price, stop_loss_price, opened_at, closed_at
FROM redeemed
ORDER BY id
