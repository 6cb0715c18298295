-- read + ack in one transaction, batch 10: raw SQL
BEGIN;
SELECT coalesce(array_agg(id), '{}') AS r
  FROM (SELECT id, body FROM raw_q WHERE vt <= clock_timestamp()
         ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED) AS m \gset
DELETE FROM raw_q WHERE id = ANY(:r::bigint[]);
COMMIT;
