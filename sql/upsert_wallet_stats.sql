-- updateWalletStats: insert or replace the statistics of each address (arrays aligned, one
-- entry per address: the caller keeps the last entry of an address named twice, since
-- ON CONFLICT cannot update one row twice in a statement). A new address is watched from now on.
INSERT INTO wallet (address, smartscore, win_rate, markets_traded, realized_pnl)
SELECT *
FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::int[], $5::numeric[])
ON CONFLICT (address) DO UPDATE
SET smartscore = excluded.smartscore,
    win_rate = excluded.win_rate,
    markets_traded = excluded.markets_traded,
    realized_pnl = excluded.realized_pnl,
    updated_at = now()
