-- cache/kinds.py TRENDING (TrendingLoader): for a batch of page requests ($1 after-volume,
-- $2 after-id, $3 page size + 1; NULL after = first page), the ids of each page of open
-- markets, highest volume first, ties by id. Keyset pagination (not OFFSET) so a page costs the
-- same at any depth and no market is skipped or repeated; the LATERAL subquery walks the
-- partial index market_trending once per requested page, all in one statement. `key`, the
-- page's 1-based place in the arrays, tells the pages apart.
SELECT k.key, m.id
FROM unnest($1::numeric[], $2::text[], $3::int[]) WITH ORDINALITY
     AS k (after_volume, after_id, page_size, key)
CROSS JOIN LATERAL (
    SELECT id, volume
    FROM market
    WHERE active AND NOT resolved
      AND (k.after_volume IS NULL
           OR volume < k.after_volume
           OR (volume = k.after_volume AND id > k.after_id))
    ORDER BY volume DESC, id
    LIMIT k.page_size
) AS m
ORDER BY k.key, m.volume DESC, m.id
