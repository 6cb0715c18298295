-- consume to the client, one batch (1000 events) per transaction: PgQ
BEGIN;
SELECT coalesce(pgq.next_batch('pc', 'c'), 0) AS b \gset
\if :b > 0
SELECT * FROM pgq.get_batch_events(:b);
SELECT pgq.finish_batch(:b);
\endif
COMMIT;
