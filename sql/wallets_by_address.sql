-- cache/kinds.py WALLET (WalletLoader: a smart trade's wallet): the watched wallets whose
-- (lowercased) addresses are in $1, each row with `key`, the 1-based place of its address in
-- $1; an address not watched has no row. One primary-key probe per address, one statement per
-- batch.
SELECT k.key, w.address, w.smartscore, w.win_rate, w.markets_traded, w.realized_pnl
FROM unnest($1::text[]) WITH ORDINALITY AS k (address, key)
JOIN wallet AS w ON w.address = k.address
