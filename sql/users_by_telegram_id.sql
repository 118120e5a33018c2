-- cache/kinds.py USER (UserLoader): the users whose Telegram ids are in $1; `key` is the
-- 1-based place of the Telegram id in $1.
SELECT k.key, u.id, u.telegram_id, u.username, u.polygon_address, u.created_at
FROM unnest($1::bigint[]) WITH ORDINALITY AS k (telegram_id, key)
JOIN app_user AS u ON u.telegram_id = k.telegram_id
