-- cache/kinds.py POSITION (PositionLoader): the positions whose ids are in $1; `key` is the
-- 1-based place of the id in $1.
SELECT k.key, p.id, p.user_id, p.market_id, p.outcome, p.status::text AS status, p.shares,
       p.entry_price, p.realized_pnl, p.take_profit_price, p.stop_loss_price,
       p.opened_at, p.closed_at
FROM unnest($1::bigint[]) WITH ORDINALITY AS k (id, key)
JOIN position AS p ON p.id = k.id
