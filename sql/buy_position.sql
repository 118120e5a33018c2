-- recordTrade (BUY), in one statement: the user with Telegram id $1, the outcomes of market $2,
-- and, when both exist, the market is not resolved and $3 is one of those outcomes as spelled,
-- $4 shares bought at $5 added to the user's ACTIVE position on (market, outcome), or a position
-- opened at $5, and the trade written (kind BUY, realized P&L 0). Always one row: trader_id,
-- market_outcomes and market_resolved (NULL when unknown), then the position's columns (those of
-- positions_by_id), NULL when nothing was written; the caller says why, or retries with the
-- market's own spelling of the outcome.
-- The market is read FOR SHARE: a resolution (which locks it to write) waits for this trade or
-- is waited for, and then the trade sees it resolved.
-- The upsert targets the partial unique index position_one_active, so concurrent buys land on
-- one row instead of racing to insert two. opened_at is left as it was.
-- The entry price becomes the share-weighted average rounded half-even to the column's 12
-- decimals. round() in PostgreSQL rounds half away from zero, so the rounding is spelled out
-- exactly: cost x 10^12 divided by the shares with div() (truncating integer quotient q), and
-- the remainder r against half the divisor decides; a tie goes to the even q.
WITH found AS (
    SELECT (SELECT id FROM app_user WHERE telegram_id = $1::bigint) AS user_id,
           m.outcomes, m.resolved
    FROM (SELECT) AS one
    LEFT JOIN (SELECT outcomes, resolved FROM market WHERE id = $2::text FOR SHARE) AS m ON true
),
bought AS (
    INSERT INTO position AS p (user_id, market_id, outcome, shares, entry_price)
    SELECT found.user_id, $2::text, $3::text, $4::numeric, $5::numeric
    FROM found
    WHERE found.user_id IS NOT NULL AND $3::text = ANY (found.outcomes) AND NOT found.resolved
    ON CONFLICT (user_id, market_id, outcome) WHERE status = 'ACTIVE' DO UPDATE SET
        shares = p.shares + EXCLUDED.shares,
        entry_price = (
            SELECT (q + CASE WHEN 2 * r > total THEN 1 WHEN 2 * r < total THEN 0 ELSE q % 2 END)
                   * 1e-12
            FROM (SELECT p.shares + EXCLUDED.shares AS total,
                         (p.entry_price * p.shares + EXCLUDED.entry_price * EXCLUDED.shares) * 1e12
                             AS scaled_cost) AS sums
            CROSS JOIN LATERAL (SELECT div(scaled_cost, total) AS q) AS quotient
            CROSS JOIN LATERAL (SELECT scaled_cost - q * total AS r) AS remainder
        ),
        updated_at = now()
    RETURNING id, user_id, market_id, outcome, status::text AS status, shares, entry_price,
              realized_pnl, take_profit_price, stop_loss_price, opened_at, closed_at
),
traded AS (
    INSERT INTO trade (user_id, market_id, position_id, kind, outcome, shares, price, realized_pnl)
    SELECT user_id, market_id, id, 'BUY', outcome, $4::numeric, $5::numeric, 0
    FROM bought
)
SELECT found.user_id AS trader_id, found.outcomes AS market_outcomes,
       found.resolved AS market_resolved, bought.*
FROM found LEFT JOIN bought ON true
