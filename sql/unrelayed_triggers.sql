-- The ingestion worker's outbox sweep (writes/triggers.py relay_unrelayed): takes up to $3
-- triggers that have waited in trigger_outbox longer than $1 seconds, i.e. whose writer could
-- not relay them (Redis down, a crash), leaving out $2 (the worker's own receipts, relayed and
-- awaiting deletion). Deletes and returns them; the caller relays them to the stream before it
-- commits, and rolls back if it cannot, so a row leaves the outbox only once it was relayed.
-- SKIP LOCKED: two sweepers never take the same row, and neither waits for a writer's row.
DELETE FROM trigger_outbox
WHERE id IN (
    SELECT id FROM trigger_outbox
    WHERE fired_at < now() - make_interval(secs => $1::double precision)
      AND id <> ALL($2::bigint[])
    ORDER BY id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
RETURNING id AS trigger_id, position_id, user_id, market_id, kind, price, fired_at
