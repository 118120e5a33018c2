-- recordTrade (SELL), in one statement: the user with Telegram id $1, the outcomes of market
-- $2, and, when both exist and the market is not resolved, $4 shares sold at $5 taken from the
-- user's ACTIVE position on (market, outcome $3 as spelled), adding (price - entry price) x
-- shares to realized_pnl; with fewer than $6 shares left (dust) the position closes: shares 0,
-- levels cleared, closed_at set. The trade is written with what it added to realized_pnl (the
-- entry price does not change on a sale, so RETURNING's is the one it sold against).
-- Always one row: trader_id, market_outcomes and market_resolved (NULL when unknown), then the
-- position's columns (those of positions_by_id), NULL when nothing was sold: no ACTIVE position
-- on that spelling holds at least $4 shares, or the market resolved. The market is read FOR
-- SHARE, as in buy_position.sql. The guard sits in the WHERE of the UPDATE: a concurrent sell waits
-- for the row lock, then the guard is evaluated again on the row it left, so two sells can
-- never take more than was held.
WITH found AS (
    SELECT (SELECT id FROM app_user WHERE telegram_id = $1::bigint) AS user_id,
           m.outcomes, m.resolved
    FROM (SELECT) AS one
    LEFT JOIN (SELECT outcomes, resolved FROM market WHERE id = $2::text FOR SHARE) AS m ON true
),
sold AS (
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
    FROM found
    WHERE p.user_id = found.user_id AND p.market_id = $2::text AND p.outcome = $3::text
      AND p.status = 'ACTIVE' AND p.shares >= $4::numeric AND NOT found.resolved
    RETURNING p.id, p.user_id, p.market_id, p.outcome, p.status::text AS status, p.shares,
              p.entry_price, p.realized_pnl, p.take_profit_price, p.stop_loss_price,
              p.opened_at, p.closed_at
),
traded AS (
    INSERT INTO trade (user_id, market_id, position_id, kind, outcome, shares, price, realized_pnl)
    SELECT user_id, market_id, id, 'SELL', outcome, $4::numeric, $5::numeric,
           ($5::numeric - entry_price) * $4::numeric
    FROM sold
)
SELECT found.user_id AS trader_id, found.outcomes AS market_outcomes,
       found.resolved AS market_resolved, sold.*
FROM found LEFT JOIN sold ON true
