--
-- max_inflight: the number of leased messages of a queue (including ones
-- being acked or nacked) never exceeds it; reads at the limit get fewer or
-- none, and get messages again once leases end or are acked.
--
SELECT mq_create_queue('mi_q', max_inflight => 2);
SELECT queue, max_inflight FROM mq_queues WHERE queue = 'mi_q';
SELECT count(*) FROM mq_send_batch('mi_q', ARRAY['1', '2', '3', '4', '5', '6']::jsonb[]);

-- A read at the limit gets fewer, then none.
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('mi_q', 10, vt => '1 hour') \gset
SELECT cardinality(:'rs'::bigint[]) AS leased;
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT ready, inflight FROM mq_queues WHERE queue = 'mi_q';
-- mq_peek leases nothing, so it is not limited.
SELECT count(*) FROM mq_peek('mi_q');

-- An ack frees a place.
SELECT mq_ack('mi_q', (:'rs'::bigint[])[1]);
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');

-- So does a nack.
SELECT mq_nack('mi_q', (:'rs'::bigint[])[2]);
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT inflight FROM mq_queues WHERE queue = 'mi_q';

-- A delivery being acked still counts until its transaction commits.
SELECT mq_purge('mi_q');
SELECT count(*) FROM mq_send_batch('mi_q', ARRAY['1', '2', '3', '4', '5', '6']::jsonb[]);
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('mi_q', 10, vt => '1 hour') \gset
BEGIN;
SELECT mq_ack('mi_q', (:'rs'::bigint[])[1]);
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
COMMIT;
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');

-- A rolled-back read gives its places back at once.
SELECT mq_purge('mi_q');
SELECT count(*) FROM mq_send_batch('mi_q', ARRAY['1', '2', '3', '4', '5', '6']::jsonb[]);
BEGIN;
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
ROLLBACK;
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT mq_purge('mi_q');

-- Leases that end by themselves free their places: the next read takes the
-- messages again (they are first in line), and no more than the limit.
SELECT count(*) FROM mq_send_batch('mi_q', ARRAY['1', '2', '3', '4', '5', '6']::jsonb[]);
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '0.5 seconds');
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT pg_sleep(0.6);
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
-- A lease shortened by mq_extend ends as well.
SELECT mq_purge('mi_q');
SELECT count(*) FROM mq_send_batch('mi_q', ARRAY['1', '2', '3', '4', '5', '6']::jsonb[]);
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('mi_q', 10, vt => '1 hour') \gset
SELECT mq_extend('mi_q', (:'rs'::bigint[])[2], vt => '0');
SELECT body, deliveries FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT inflight FROM mq_queues WHERE queue = 'mi_q';

-- Raising the limit lets reads take more; reset removes it.
SELECT mq_alter_queue('mi_q', max_inflight => 3);
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT mq_alter_queue('mi_q', reset => '{max_inflight}');
SELECT body FROM mq_read('mi_q', 10, vt => '1 hour');
SELECT depth, inflight, max_inflight FROM mq_queues WHERE queue = 'mi_q';

-- A limit of one: one message at a time.
SELECT mq_create_queue('mi_one', max_inflight => 1);
SELECT count(*) FROM mq_send_batch('mi_one', ARRAY['"a"', '"b"']::jsonb[]);
SELECT receipt AS r, body FROM mq_read('mi_one', 10) \gset
\echo :body
SELECT count(*) FROM mq_read('mi_one', 10);
SELECT mq_ack('mi_one', :r);
SELECT body FROM mq_read('mi_one', 10);

SELECT mq_drop_queue('mi_q');
SELECT mq_drop_queue('mi_one');
