-- The users' trades: one row per recordTrade (BUY or SELL) and per redeemed position (REDEEM),
-- written in the same statement as the position it changed; syncPositions writes none.
--
-- An append-only history: nothing updates a trade. outcome is spelled as the market spells it;
-- price is the trade's (the payout price, 1 or 0, for a REDEEM); realized_pnl is what the trade
-- added to its position's (0 for a BUY). Same precisions as position: NUMERIC(24,6) shares,
-- NUMERIC(13,12) prices, NUMERIC(38,18) money.
CREATE TYPE trade_kind AS ENUM ('BUY', 'SELL', 'REDEEM');

CREATE TABLE trade (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES app_user (id),
    market_id    text NOT NULL REFERENCES market (id),
    -- A trade is part of its position's story: deleting the position (data repair, tests'
    -- clean-up) takes its trades along.
    position_id  bigint NOT NULL REFERENCES position (id) ON DELETE CASCADE,
    kind         trade_kind NOT NULL,
    outcome      text NOT NULL,
    shares       numeric(24, 6) NOT NULL CHECK (shares >= 0),
    price        numeric(13, 12) NOT NULL CHECK (price BETWEEN 0 AND 1),
    realized_pnl numeric(38, 18) NOT NULL DEFAULT 0,
    executed_at  timestamptz NOT NULL DEFAULT now()
);

-- trades(first, after): a user's trades newest first, keyset pages walking this index.
CREATE INDEX trade_by_user ON trade (user_id, executed_at DESC, id DESC);
-- The cascade from position: deleting a position finds its trades without a scan.
CREATE INDEX trade_by_position ON trade (position_id);
