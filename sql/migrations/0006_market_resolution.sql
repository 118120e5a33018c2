-- How a market settled: the winning outcome (spelled as the market spells it) and when.
--
-- Both stay NULL until the market resolves (`resolved` already exists, false for every market
-- of the snapshot); a CHECK ties them to `resolved`, and the winner to one of the outcomes, so
-- no write can leave a half-resolved market. Columns on market, not a table of their own: every
-- read of a market (the positions' valuation, Claimable) needs them with its prices, in the one
-- cached entry.
ALTER TABLE market
    ADD COLUMN winning_outcome text,
    ADD COLUMN resolved_at timestamptz,
    ADD CONSTRAINT market_resolution CHECK (
        (winning_outcome IS NOT NULL AND resolved_at IS NOT NULL) = resolved
        AND (winning_outcome IS NULL OR winning_outcome = ANY (outcomes))
    );
