-- Trades of watched wallets, as the wallet tracker saw them on chain (recordWalletTrades).
--
-- `id` is the tracker's own id, so a trade sent again is recognised and stored once. The trade
-- keeps its token id only: the market and the outcome come from the token at read time
-- (market.clob_token_ids, GIN-indexed), as everywhere else, rather than a copy that could
-- disagree with the market. The id sorts in byte order ("C") whatever the database's
-- collation: the feed orders ties by id, and its cursors compare ids the same way. Shares and
-- price at the positions' precisions; `value` (shares x price, exact) is generated, so the
-- feed's minimum-value filter reads a column.
CREATE TABLE wallet_trade (
    id          text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    wallet      text NOT NULL REFERENCES wallet (address),
    token_id    text NOT NULL,
    side        text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    shares      numeric(24, 6) NOT NULL CHECK (shares > 0),
    price       numeric(13, 12) NOT NULL CHECK (price BETWEEN 0 AND 1),
    value       numeric(37, 18) GENERATED ALWAYS AS (shares * price) STORED,
    executed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- smartTrades: BUY trades newest first, ties by id ascending. A page walks this index from its
-- cursor (executed_at <= the cursor's is the index bound) and applies the value and win-rate
-- filters to the rows it meets, stopping once the page is full: the filters take parameters,
-- so no partial index could hold them (the defaults, 300 and 0.55, are what the bot sends, and
-- big buys of good wallets are what the tracker records). The wallet join is a primary-key
-- probe per row met.
CREATE INDEX wallet_trade_feed ON wallet_trade (executed_at DESC, id) WHERE side = 'BUY';
