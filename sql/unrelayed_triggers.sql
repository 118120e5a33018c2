-- The ingestion worker's outbox sweep (writes/triggers.py relay_unrelayed): takes up to $3
-- triggers that have waited in trigger_outbox longer than $1 seconds, i.e. whose writer could
-- not relay them (Redis down, a crash), leaving out $2 (the worker's own receipts, relayed and
-- awaiting deletion). Deletes and returns them; the caller relays them to the stream before it
-- commits, and rolls back if it cannot, so a row leaves the outbox only once it was relayed.
-- SKIP LOCKED: two sweepers never take the same row, and neither waits for a writer's row.
-- The user's Telegram id is joined as sql/trigger_levels.sql does (the stream entry carries it);
-- a LEFT JOIN, since the outbox has no foreign keys: a row naming no known user is still relayed
-- (telegram_id null) rather than deleted unseen.
WITH taken AS (
    DELETE FROM trigger_outbox
    WHERE id IN (
        SELECT id FROM trigger_outbox
        WHERE fired_at < now() - make_interval(secs => $1::double precision)
          AND id <> ALL($2::bigint[])
        ORDER BY id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, position_id, user_id, market_id, kind, price, fired_at
)
SELECT t.id AS trigger_id, t.position_id, t.user_id, u.telegram_id, t.market_id, t.kind,
       t.price, t.fired_at
FROM taken AS t
LEFT JOIN app_user AS u ON u.id = t.user_id
ORDER BY t.id
