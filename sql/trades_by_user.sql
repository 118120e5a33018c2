-- cache/kinds.py USER_TRADES (UserTradesLoader): for a batch of page requests ($1 user id, $2
-- after-executed_at, $3 after-id, $4 page size + 1; NULL after = the newest), each page of that
-- user's trades, newest first (executed_at, then id, descending). Keyset pagination: the
-- LATERAL subquery walks the index trade_by_user from the cursor's row, so a page costs the
-- same at any depth, and several pages or users in one request are one statement. `key` is the
-- page's 1-based place in the arrays.
SELECT k.key, t.id, t.market_id, t.position_id, t.kind::text AS kind, t.outcome, t.shares,
       t.price, t.realized_pnl, t.executed_at
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::int[]) WITH ORDINALITY
     AS k (user_id, after_executed_at, after_id, page_size, key)
CROSS JOIN LATERAL (
    SELECT id, market_id, position_id, kind, outcome, shares, price, realized_pnl, executed_at
    FROM trade
    WHERE user_id = k.user_id
      AND (k.after_executed_at IS NULL
           OR (executed_at, id) < (k.after_executed_at, k.after_id))
    ORDER BY executed_at DESC, id DESC
    LIMIT k.page_size
) AS t
ORDER BY k.key, t.executed_at DESC, t.id DESC
