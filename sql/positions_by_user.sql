-- cache/kinds.py USER_POSITIONS (UserPositionsLoader): for a batch of (user id, status or NULL
-- for all) keys, each user's positions newest first (opened_at, then id); `key` is the 1-based
-- place of the key in the arrays. Two users' screens in one request are one
-- statement; the index position_by_user serves each probe.
SELECT k.key,
       p.id, p.user_id, p.market_id, p.outcome, p.status::text AS status, p.shares,
       p.entry_price, p.realized_pnl, p.take_profit_price, p.stop_loss_price,
       p.opened_at, p.closed_at
FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS k (user_id, status, key)
JOIN position AS p
  ON p.user_id = k.user_id AND (k.status IS NULL OR p.status = k.status::position_status)
ORDER BY k.key, p.opened_at DESC, p.id DESC
