-- syncPositions: makes user $1's ACTIVE positions match a snapshot of holdings, given as
-- parallel arrays $2 market ids, $3 outcomes, $4 shares, $5 average prices (at most one entry
-- per market and outcome; holdings below the dust threshold are left out by the caller, so
-- their positions close as missing ones do).
-- Returns one row: the ids of the positions opened, updated (only those that changed) and
-- closed (the caller counts them; a cache learns which positions to retire). One statement whatever the snapshot's size; its three parts touch disjoint rows and
-- all read the positions as they were when it started:
--   closed:  ACTIVE positions the snapshot lacks close as a sell to dust does (shares 0,
--            realized_pnl kept, levels cleared, closed_at set), except in resolved markets:
--            only redeemPositions settles those (the caller leaves their holdings out too);
--   updated: ACTIVE positions the snapshot holds take its shares and entry price;
--   opened:  holdings with no ACTIVE position open one. Should a trade open that position
--            while this runs, the upsert makes the snapshot's numbers win, as the later word.
WITH holding AS (
    SELECT *
    FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[])
         AS h (market_id, outcome, shares, entry_price)
),
closed AS (
    UPDATE position AS p
    SET status = 'CLOSED', shares = 0, closed_at = now(),
        take_profit_price = NULL, stop_loss_price = NULL, updated_at = now()
    WHERE p.user_id = $1::bigint AND p.status = 'ACTIVE'
      AND NOT EXISTS (SELECT FROM holding AS h
                      WHERE h.market_id = p.market_id AND h.outcome = p.outcome)
      AND NOT EXISTS (SELECT FROM market AS m WHERE m.id = p.market_id AND m.resolved)
    RETURNING p.id
),
updated AS (
    UPDATE position AS p
    SET shares = h.shares, entry_price = h.entry_price, updated_at = now()
    FROM holding AS h
    WHERE p.user_id = $1::bigint AND p.status = 'ACTIVE'
      AND p.market_id = h.market_id AND p.outcome = h.outcome
      AND (p.shares, p.entry_price) IS DISTINCT FROM (h.shares, h.entry_price)
    RETURNING p.id
),
opened AS (
    INSERT INTO position AS p (user_id, market_id, outcome, shares, entry_price)
    SELECT $1::bigint, h.market_id, h.outcome, h.shares, h.entry_price
    FROM holding AS h
    WHERE NOT EXISTS (SELECT FROM position AS a
                      WHERE a.user_id = $1::bigint AND a.status = 'ACTIVE'
                        AND a.market_id = h.market_id AND a.outcome = h.outcome)
    ON CONFLICT (user_id, market_id, outcome) WHERE status = 'ACTIVE' DO UPDATE
    SET shares = EXCLUDED.shares, entry_price = EXCLUDED.entry_price, updated_at = now()
    RETURNING p.id
)
SELECT ARRAY(SELECT id FROM opened) AS opened,
       ARRAY(SELECT id FROM updated) AS updated,
       ARRAY(SELECT id FROM closed) AS closed
