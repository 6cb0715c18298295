--
-- mq_pop (read and delete in one step, at-most-once) and mq_peek (ready
-- messages without a lease).
--
SELECT mq_create_queue('pop_q');

-- Empty queue: no rows.
SELECT * FROM mq_pop('pop_q');
SELECT * FROM mq_peek('pop_q');

SELECT count(*) FROM mq_send_batch('pop_q', ARRAY['"a"', '"b"', '"c"']::jsonb[], headers => ARRAY['{"n": 1}', NULL, NULL]::jsonb[]);
SELECT mq_send('pop_q', '"urgent"', priority => 10) AS id \gset
SELECT mq_send('pop_q', '"delayed"', delay => '1 hour', priority => 255) AS id \gset

-- mq_peek: ready messages in delivery order (not the delayed one),
-- receipt NULL, deliveries as stored.
SELECT body, headers, receipt, deliveries, priority, visible_at = enqueued_at AS ready_since_sent
  FROM mq_peek('pop_q');
SELECT body FROM mq_peek('pop_q', 2);
-- Peeking leases nothing and counts no delivery.
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'pop_q';
SELECT body, deliveries FROM mq_read('pop_q');

-- mq_peek does not show leased messages; it shows a message whose lease
-- ended with the deliveries it had.
SELECT body FROM mq_peek('pop_q');
SELECT body, deliveries FROM mq_read('pop_q', vt => '0');
SELECT body, deliveries FROM mq_peek('pop_q');

-- mq_pop: highest priority first, then FIFO; receipt NULL; deliveries
-- includes this delivery; the message is gone.
SELECT body, headers, receipt, deliveries, priority FROM mq_pop('pop_q');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'pop_q';
SELECT body, receipt, deliveries FROM mq_pop('pop_q', 5);
-- Neither the leased message nor the delayed one can be popped.
SELECT count(*) FROM mq_pop('pop_q', 10);
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'pop_q';
SELECT mq_purge('pop_q');

-- The default qty of mq_peek is 10, of mq_pop 1.
SELECT count(*) FROM mq_send_batch('pop_q', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 12) AS i));
SELECT count(*) AS peeked FROM mq_peek('pop_q');
SELECT body FROM mq_pop('pop_q');
SELECT count(*) AS popped, min(body::int), max(body::int) FROM mq_pop('pop_q', 10000);
SELECT depth FROM mq_queues WHERE queue = 'pop_q';

-- A rolled-back pop leaves the message ready, its delivery counted.
SELECT mq_send('pop_q', '"rolled back pop"') AS id \gset
BEGIN;
SELECT body, deliveries FROM mq_pop('pop_q');
SELECT count(*) FROM mq_peek('pop_q');
ROLLBACK;
SELECT body, deliveries FROM mq_peek('pop_q');
SELECT body, deliveries FROM mq_pop('pop_q');
SELECT depth FROM mq_queues WHERE queue = 'pop_q';

-- mq_peek sees a delayed message once its delay has ended.
SELECT mq_send('pop_q', '"soon"', delay => '1 second') AS id \gset
SELECT count(*) AS peeked_before FROM mq_peek('pop_q');
SELECT pg_sleep(1.1);
SELECT body, deliveries FROM mq_peek('pop_q');
SELECT body FROM mq_pop('pop_q');

SELECT mq_drop_queue('pop_q');
