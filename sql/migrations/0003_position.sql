-- A user's holding in one outcome of one market.
--
-- outcome is stored spelled as the market spells it (the API canonicalises the trade's case),
-- so `array_position(market.outcomes, outcome)` finds its price without a case fold.
-- Shares NUMERIC(24,6) (USDC-style six decimals), prices NUMERIC(13,12), money NUMERIC(38,18):
-- (price - entry) x shares has 18 decimals, so realized P&L is kept exactly.
CREATE TYPE position_status AS ENUM ('ACTIVE', 'CLOSED');

CREATE TABLE position (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES app_user (id),
    market_id         text NOT NULL REFERENCES market (id),
    outcome           text NOT NULL,
    status            position_status NOT NULL DEFAULT 'ACTIVE',
    shares            numeric(24, 6) NOT NULL CHECK (shares >= 0),
    entry_price       numeric(13, 12) NOT NULL CHECK (entry_price BETWEEN 0 AND 1),
    realized_pnl      numeric(38, 18) NOT NULL DEFAULT 0,
    take_profit_price numeric(13, 12) CHECK (take_profit_price > 0 AND take_profit_price < 1),
    stop_loss_price   numeric(13, 12) CHECK (stop_loss_price > 0 AND stop_loss_price < 1),
    opened_at         timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (stop_loss_price < take_profit_price),
    CHECK ((status = 'CLOSED') = (closed_at IS NOT NULL)),
    CHECK (status = 'ACTIVE' OR (shares = 0 AND take_profit_price IS NULL
                                 AND stop_loss_price IS NULL))
);

-- At most one ACTIVE position per (user, market, outcome); recordTrade's BUY upserts on it.
CREATE UNIQUE INDEX position_one_active ON position (user_id, market_id, outcome)
    WHERE status = 'ACTIVE';
-- positions(status): a user's positions by status, newest first.
CREATE INDEX position_by_user ON position (user_id, status, opened_at DESC, id DESC);
-- TP/SL evaluation after a price update and the ingestion worker's subscriptions.
CREATE INDEX position_active_by_market ON position (market_id) WHERE status = 'ACTIVE';
