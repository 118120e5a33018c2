-- cache/kinds.py SMART_TRADES (SmartTradesLoader): for a batch of feed pages ($1 after
-- executed_at, $2 after id, NULL both for the first page; $3 minimum value, $4 minimum win
-- rate, $5 page size + 1), the BUY trades of watched wallets whose current win rate and whose
-- value pass the filters, newest first, ties by id ascending, each with `key`, its page's
-- 1-based place in the arrays.
-- Keyset, not OFFSET: `executed_at <= after` bounds the walk of the partial index
-- wallet_trade_feed, the rest of the cursor condition and the filters are checked on the rows
-- it meets, and LIMIT stops it. The market id and outcome come from the token (GIN probe on
-- clob_token_ids; the first market by id if bad data listed a token twice), so the page's
-- markets are then read in one batch by id.
SELECT k.key, t.id, t.token_id, t.side, t.shares, t.price, t.value, t.executed_at,
       t.wallet AS wallet_address, m.market_id, m.outcome
FROM unnest($1::timestamptz[], $2::text[], $3::numeric[], $4::numeric[], $5::int[])
     WITH ORDINALITY AS k (after_executed_at, after_id, min_value, min_win_rate, page_size, key)
CROSS JOIN LATERAL (
    SELECT wt.id, wt.token_id, wt.side, wt.shares, wt.price, wt.value, wt.executed_at,
           wt.wallet
    FROM wallet_trade AS wt
    JOIN wallet AS w ON w.address = wt.wallet
    WHERE wt.side = 'BUY'
      AND wt.executed_at <= coalesce(k.after_executed_at, 'infinity')
      AND (k.after_executed_at IS NULL
           OR wt.executed_at < k.after_executed_at
           OR wt.id > k.after_id)
      AND wt.value >= k.min_value
      AND w.win_rate >= k.min_win_rate
    ORDER BY wt.executed_at DESC, wt.id
    LIMIT k.page_size
) AS t
LEFT JOIN LATERAL (
    SELECT market.id AS market_id,
           market.outcomes[array_position(market.clob_token_ids, t.token_id)] AS outcome
    FROM market
    WHERE market.clob_token_ids @> ARRAY[t.token_id]
    ORDER BY market.id
    LIMIT 1
) AS m ON true
ORDER BY k.key, t.executed_at DESC, t.id
