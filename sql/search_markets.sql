-- cache/kinds.py SEARCH (SearchLoader): for a batch of searches ($1 texts, $2 limits), the ids
-- of the markets whose title holds any of the text's words, titles holding more of the words
-- first, then higher volume, id; `key` is the search's 1-based place in the arrays.
-- The text is turned into lexemes with the same 'english' configuration as title_search, so
-- matching is on whole words, case-insensitive, stemmed. The OR-query uses the GIN index;
-- the number of distinct words matched is the intersection of the two lexeme arrays.
SELECT k.key, m.id
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k (text, page_size, key)
CROSS JOIN LATERAL (
    SELECT tsvector_to_array(to_tsvector('english', k.text)) AS words
) AS q
CROSS JOIN LATERAL (
    SELECT market.id, market.volume,
           cardinality(ARRAY(SELECT unnest(tsvector_to_array(market.title_search))
                             INTERSECT SELECT unnest(q.words))) AS words_matched
    FROM market
    WHERE cardinality(q.words) > 0
      AND market.title_search @@ to_tsquery(
              'simple', array_to_string(ARRAY(SELECT quote_literal(w) FROM unnest(q.words) AS w),
                                        ' | '))
    ORDER BY words_matched DESC, market.volume DESC, market.id
    LIMIT k.page_size
) AS m
ORDER BY k.key, m.words_matched DESC, m.volume DESC, m.id
