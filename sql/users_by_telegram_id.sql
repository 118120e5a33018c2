-- UserLoader: the users whose Telegram ids are in $1.
SELECT id, telegram_id, username, polygon_address, created_at
FROM app_user
WHERE telegram_id = ANY($1::bigint[])
