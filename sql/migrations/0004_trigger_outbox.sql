-- Triggered take-profit / stop-loss levels on their way to the trading service's Redis stream.
--
-- A transactional outbox: sql/trigger_levels.sql inserts each level it fires here in the same
-- statement that consumes the level, so a trigger is committed together with the price that
-- fired it or not at all. After the commit the writer relays the rows to the stream and deletes
-- them (writes/triggers.py); a row whose relay failed (Redis down, a crash) stays here until the
-- ingestion worker relays it later. Delivery is therefore at least once: `id` travels with each
-- stream entry as `trigger_id`, for the consumer to drop a repeat.
-- No foreign keys: a row is a message about a position, not part of it, and must outlive
-- whatever happens to the position before it is relayed.
CREATE TABLE trigger_outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position_id bigint NOT NULL,
    user_id     bigint NOT NULL,
    market_id   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('TAKE_PROFIT', 'STOP_LOSS')),
    price       numeric(13, 12) NOT NULL,
    fired_at    timestamptz NOT NULL DEFAULT now()
);
