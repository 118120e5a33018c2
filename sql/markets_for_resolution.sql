-- resolveMarkets (writes/resolutions.py): the outcomes and resolution of each market whose id is
-- in $1 (sorted by the caller), locked until the transaction ends, to judge every entry before
-- anything is written; unknown ids have no row. The lock, taken in id order as the price writers
-- take theirs, keeps a concurrent resolution, trade or price write from acting on what this
-- call is about to change (trades and setTpSl lock the market FOR SHARE first). NO KEY: the
-- foreign-key checks of rows referring to the market (KEY SHARE) need not wait for it.
SELECT id, outcomes, resolved, winning_outcome
FROM market
WHERE id = ANY($1::text[])
ORDER BY id
FOR NO KEY UPDATE
