-- resolveMarkets (writes/resolutions.py): resolves each market in $1 to the outcome at the same
-- place in $2 (spelled as the market spells it, one entry per market, all checked and locked by
-- markets_for_resolution.sql): resolved, winning_outcome, resolved_at = now() (the
-- transaction's time: one time for every market of the call), and its prices 1 for the winner
-- and 0 for the others. Then clears the take-profit and stop-loss levels of the markets' ACTIVE
-- positions that have any, so that none fires on a resolution or after it; returns those
-- positions (id, user_id), whose cache scopes the caller retires.
-- One statement whatever the number of markets. `cleared` does not read `settled` (the parts of
-- a statement see the same snapshot): it takes the ids from $1 directly.
WITH settled AS (
    UPDATE market AS m
    SET resolved = true,
        winning_outcome = r.outcome,
        resolved_at = now(),
        outcome_prices = ARRAY(
            SELECT CASE WHEN o.name = r.outcome THEN 1 ELSE 0 END
            FROM unnest(m.outcomes) WITH ORDINALITY AS o (name, place)
            ORDER BY o.place
        )::numeric(13, 12)[],
        prices_updated_at = now(),
        updated_at = now()
    FROM unnest($1::text[], $2::text[]) AS r (id, outcome)
    WHERE m.id = r.id
    RETURNING m.id
),
cleared AS (
    UPDATE position AS p
    SET take_profit_price = NULL, stop_loss_price = NULL, updated_at = now()
    FROM unnest($1::text[]) AS r (id)
    WHERE p.market_id = r.id AND p.status = 'ACTIVE'
      AND (p.take_profit_price IS NOT NULL OR p.stop_loss_price IS NOT NULL)
    RETURNING p.id, p.user_id
)
SELECT id, user_id FROM cleared ORDER BY id
