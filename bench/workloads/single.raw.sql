-- read + ack in two transactions, batch 1: raw SQL
WITH m AS (
    UPDATE raw_q SET vt = clock_timestamp() + interval '30 s', read_ct = read_ct + 1
     WHERE id IN (SELECT id FROM raw_q WHERE vt <= clock_timestamp()
                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, body)
SELECT coalesce(array_agg(id), '{}') AS r FROM m \gset
DELETE FROM raw_q WHERE id = ANY(:r::bigint[]);
