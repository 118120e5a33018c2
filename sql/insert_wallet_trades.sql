-- recordWalletTrades: the accepted trades in one statement (arrays aligned by entry). An id
-- stored meanwhile by a concurrent call is skipped (ON CONFLICT DO NOTHING waits for that
-- call's commit), and RETURNING tells the caller which ids this statement stored.
INSERT INTO wallet_trade (id, wallet, token_id, side, shares, price, executed_at)
SELECT *
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[],
            $7::timestamptz[])
ON CONFLICT (id) DO NOTHING
RETURNING id
