-- upsertUser: creates the user keyed by Telegram id, or updates the fields it was given;
-- returns the user's row (the columns of users_by_telegram_id.sql).
-- One statement, so two first calls at once cannot both insert. $2 and $4 say whether username
-- and polygon_address were sent: an omitted field keeps the stored value, an explicit null
-- ($3 or $5 NULL with its flag true) clears it.
INSERT INTO app_user AS u (telegram_id, username, polygon_address)
VALUES ($1::bigint, $3::text, $5::text)
ON CONFLICT (telegram_id) DO UPDATE SET
    username = CASE WHEN $2::boolean THEN EXCLUDED.username ELSE u.username END,
    polygon_address = CASE WHEN $4::boolean THEN EXCLUDED.polygon_address
                           ELSE u.polygon_address END,
    updated_at = now()
RETURNING id, telegram_id, username, polygon_address, created_at
