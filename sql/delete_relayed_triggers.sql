-- writes/triggers.py: after the triggers in $1 (trigger_outbox ids) reached the Redis stream,
-- their outbox rows go. updateMarketPrices sends this right after relaying; the ingestion
-- worker folds its receipts into its next flush's trigger_levels.sql and sends this only when
-- it has receipts and nothing to flush (or at shutdown).
DELETE FROM trigger_outbox WHERE id = ANY($1::bigint[])
