-- redeemPositions: the positions of user $1 whose ids are in $2, with what settles them: their
-- market's resolution. Locked until the transaction ends (in id order, as every writer of
-- positions locks them), so the shares and status judged are those redeemed. Ids that are not
-- the user's have no row (another user's position is not revealed).
SELECT p.id, p.status::text AS status, p.outcome, p.shares, p.entry_price,
       m.resolved, m.winning_outcome
FROM position AS p
JOIN market AS m ON m.id = p.market_id
WHERE p.user_id = $1::bigint AND p.id = ANY($2::bigint[])
ORDER BY p.id
FOR UPDATE OF p
