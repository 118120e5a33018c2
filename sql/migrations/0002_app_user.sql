-- Bot users, keyed by their Telegram id (which exceeds 32 bits, hence bigint).
-- The table is app_user because `user` is a reserved word in PostgreSQL.
CREATE TABLE app_user (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    telegram_id     bigint NOT NULL UNIQUE CHECK (telegram_id > 0),
    username        text,
    polygon_address text CHECK (polygon_address ~ '^0x[0-9a-fA-F]{40}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
