-- read + ack in two transactions, batch 10: the queue
-- transaction 1 leases up to 10 messages, transaction 2 acks them.
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('q', 10) \gset
SELECT mq_ack('q', :r::bigint[]);
