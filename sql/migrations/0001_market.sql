-- Markets from Polymarket's Gamma API, one row per market: the shape every read wants.
--
-- outcomes, outcome_prices and clob_token_ids are arrays aligned by position (index i of each
-- describes outcome i), because every read needs all three together and a child table would
-- cost a join or an aggregate on the hottest path. Token lookups (marketByToken, syncPositions,
-- the ingestion worker) use the GIN index on clob_token_ids with `@>`.
-- Prices are NUMERIC(13,12): exact, in [0, 1], twelve decimals (an input with more is refused
-- by the API, never rounded). outcome_prices is NULL when the market has no prices.
CREATE TABLE market (
    id              text PRIMARY KEY,
    title           text NOT NULL,
    slug            text NOT NULL,
    condition_id    text NOT NULL UNIQUE CHECK (condition_id ~ '^0x[0-9a-f]{64}$'),
    outcomes        text[] NOT NULL CHECK (cardinality(outcomes) >= 2),
    outcome_prices  numeric(13, 12)[]
                    CHECK (cardinality(outcome_prices) = cardinality(outcomes)
                           AND 0 <= ALL (outcome_prices) AND 1 >= ALL (outcome_prices)),
    clob_token_ids  text[] NOT NULL CHECK (cardinality(clob_token_ids) = cardinality(outcomes)),
    volume          numeric NOT NULL DEFAULT 0 CHECK (volume >= 0),
    liquidity       numeric NOT NULL DEFAULT 0 CHECK (liquidity >= 0),
    end_date        timestamptz,
    -- The snapshot's `tradeable` flag: the old bot's rule for an open market.
    active          boolean NOT NULL,
    resolved        boolean NOT NULL DEFAULT false,
    prices_updated_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Full-text search on the title. 'english' stems ("elections" finds "election"); the
    -- embedded PostgreSQL ships without pg_trgm, and whole-word matching is the contract anyway.
    title_search    tsvector GENERATED ALWAYS AS (to_tsvector('english', title)) STORED
);

-- marketByToken, syncPositions, ingestion subscriptions: token id -> market.
CREATE INDEX market_clob_token_ids ON market USING gin (clob_token_ids);
-- trendingMarkets: open markets by volume, ties by id; keyset pagination walks this index.
CREATE INDEX market_trending ON market (volume DESC, id) WHERE active AND NOT resolved;
-- searchMarkets.
CREATE INDEX market_title_search ON market USING gin (title_search);
