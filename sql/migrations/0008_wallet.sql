-- Watched ("smart") wallets and their trading statistics, one row per address: the
-- leaderboard reads them in order of one statistic, the smart-wallet feed filters its trades by
-- the wallet's current win rate.
--
-- The address is stored lowercased (`0x` and 40 hex digits): addresses compare
-- case-insensitively, so one spelling in the table makes the primary key the uniqueness rule.
-- Statistics are exact decimals as the tracker (or the CSV) wrote them: NUMERIC(38,18) like a
-- position's realized P&L, win_rate NUMERIC(19,18) in [0, 1]; the API refuses a value with more
-- decimals instead of rounding it.
CREATE TABLE wallet (
    address        text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
    smartscore     numeric(38, 18) NOT NULL,
    win_rate       numeric(19, 18) NOT NULL CHECK (win_rate BETWEEN 0 AND 1),
    markets_traded integer NOT NULL CHECK (markets_traded >= 0),
    realized_pnl   numeric(38, 18) NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- leaderboard(by): each statistic highest first, ties by address; a page reads the first
-- `first` entries of one of these indexes and stops.
CREATE INDEX wallet_by_smartscore ON wallet (smartscore DESC, address);
CREATE INDEX wallet_by_win_rate ON wallet (win_rate DESC, address);
CREATE INDEX wallet_by_realized_pnl ON wallet (realized_pnl DESC, address);
