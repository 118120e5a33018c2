-- recordTrade: the user's id for Telegram id $1 and the outcomes of market $2, each NULL when
-- unknown. Always one row, so a single round trip tells which of the two is missing.
SELECT (SELECT id FROM app_user WHERE telegram_id = $1::bigint) AS user_id,
       (SELECT outcomes FROM market WHERE id = $2::text) AS outcomes
