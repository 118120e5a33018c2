-- cache/kinds.py LEADERBOARD (LeaderboardLoader): for a batch of leaderboard pages ($1 the
-- statistic: 'SMARTSCORE', 'WIN_RATE' or 'REALIZED_PNL'; $2 page size), the watched wallets
-- highest first, ties by address, with `rank` (1-based place; tied wallets get consecutive
-- ranks) and `key`, the page's 1-based place in the arrays.
-- One branch per statistic rather than ORDER BY CASE: each branch's `k.by = ...` is a one-time
-- filter, so a page runs only its own branch, which reads the first rows of that statistic's
-- index and stops.
SELECT k.key, w.rank, w.address, w.smartscore, w.win_rate, w.markets_traded, w.realized_pnl
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k (by, page_size, key)
CROSS JOIN LATERAL (
    (SELECT row_number() OVER (ORDER BY smartscore DESC, address) AS rank,
            address, smartscore, win_rate, markets_traded, realized_pnl
     FROM wallet
     WHERE k.by = 'SMARTSCORE'
     ORDER BY smartscore DESC, address
     LIMIT k.page_size)
    UNION ALL
    (SELECT row_number() OVER (ORDER BY win_rate DESC, address) AS rank,
            address, smartscore, win_rate, markets_traded, realized_pnl
     FROM wallet
     WHERE k.by = 'WIN_RATE'
     ORDER BY win_rate DESC, address
     LIMIT k.page_size)
    UNION ALL
    (SELECT row_number() OVER (ORDER BY realized_pnl DESC, address) AS rank,
            address, smartscore, win_rate, markets_traded, realized_pnl
     FROM wallet
     WHERE k.by = 'REALIZED_PNL'
     ORDER BY realized_pnl DESC, address
     LIMIT k.page_size)
) AS w
ORDER BY k.key, w.rank
