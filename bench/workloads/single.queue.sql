-- read + ack in two transactions, batch 1: the queue
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('q', 1) \gset
SELECT mq_ack('q', :r::bigint[]);
