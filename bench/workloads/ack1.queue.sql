-- read + ack in one transaction, batch 10: the queue
BEGIN;
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('q', 10) \gset
SELECT mq_ack('q', :r::bigint[]);
COMMIT;
