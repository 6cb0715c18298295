-- read + ack in two transactions, batch 10: raw SQL
-- transaction 1 leases up to 10 rows for 30 s (vt), transaction 2 deletes them.
WITH m AS (
    UPDATE raw_q SET vt = clock_timestamp() + interval '30 s', read_ct = read_ct + 1
     WHERE id IN (SELECT id FROM raw_q WHERE vt <= clock_timestamp()
                   ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED)
    RETURNING id, body)
SELECT coalesce(array_agg(id), '{}') AS r FROM m \gset
DELETE FROM raw_q WHERE id = ANY(:r::bigint[]);
