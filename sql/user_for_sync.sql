-- syncPositions and redeemPositions: the id of the user with Telegram id $1, or no row. The row
-- lock serialises two syncs (or a sync and a redemption) of one user (each sees the other's
-- result); NO KEY keeps it from blocking trades, whose foreign-key checks only take KEY SHARE.
SELECT id FROM app_user WHERE telegram_id = $1::bigint FOR NO KEY UPDATE
