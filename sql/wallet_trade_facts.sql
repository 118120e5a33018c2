-- recordWalletTrades: what judging the entries needs, in one statement for the whole call:
-- which of the ids $1 are already stored, which of the addresses $2 are watched, which of the
-- token ids $3 a market holds (GIN probe on clob_token_ids per token).
SELECT
    ARRAY(SELECT id FROM wallet_trade WHERE id = ANY ($1::text[])) AS stored_ids,
    ARRAY(SELECT address FROM wallet WHERE address = ANY ($2::text[])) AS watched,
    ARRAY(SELECT t.token_id
          FROM unnest($3::text[]) AS t (token_id)
          WHERE EXISTS (SELECT 1 FROM market WHERE clob_token_ids @> ARRAY[t.token_id]))
        AS known_tokens
