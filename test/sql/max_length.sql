--
-- max_length and overflow: a send that would make a queue hold more than
-- max_length messages raises 53400 under 'reject'; under 'drop_oldest'
-- the ready messages at the head of the queue (highest priority first,
-- then oldest) move out with reason "max_length" to make room.
--
SELECT mq_create_queue('ml_r', max_length => 3);
SELECT queue, max_length, overflow FROM mq_queues WHERE queue = 'ml_r';

-- reject: the fourth message does not fit; nothing of a failed batch is sent.
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['1', '2']::jsonb[]);
SELECT mq_send('ml_r', '3') AS id \gset
SELECT mq_send('ml_r', '4');
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['4']::jsonb[]);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'ml_r';
-- Leased and delayed messages count too.
SELECT body FROM mq_read('ml_r', vt => '1 hour');
SELECT mq_send('ml_r', '4');
\echo :SQLSTATE
SELECT body FROM mq_pop('ml_r');
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['4', '5']::jsonb[]);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'ml_r';
SELECT mq_send('ml_r', '"delayed"', delay => '1 hour') AS id \gset
SELECT mq_send('ml_r', '5');
\echo :SQLSTATE
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'ml_r';
SELECT mq_purge('ml_r');

-- The sending transaction's own sends and deletes count; rolled-back ones
-- do not.
BEGIN;
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['1', '2', '3']::jsonb[]);
SAVEPOINT sp;
SELECT mq_send('ml_r', '4');
ROLLBACK TO sp;
SELECT body FROM mq_pop('ml_r');
SELECT mq_send('ml_r', '4') AS id \gset
SAVEPOINT sp;
SELECT mq_send('ml_r', '5');
ROLLBACK TO sp;
COMMIT;
SELECT body FROM mq_peek('ml_r');
BEGIN;
SELECT body FROM mq_pop('ml_r', 3);
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['"x"', '"y"', '"z"']::jsonb[]);
ROLLBACK;
SELECT body FROM mq_peek('ml_r');
SELECT mq_purge('ml_r');

-- Duplicate sends (idempotency keys) do not count.
SELECT mq_send('ml_r', '"keyed"', idempotency_key => 'ml-1') AS keyed_id \gset
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['2', '3']::jsonb[]);
SELECT mq_send('ml_r', '"again"', idempotency_key => 'ml-1') = :keyed_id AS same_id;
SELECT array_agg(id) = ARRAY[:keyed_id]::bigint[] AS same_ids
  FROM mq_send_batch('ml_r', ARRAY['"again"']::jsonb[], idempotency_keys => ARRAY['ml-1']) AS b(id);
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['"again"', '"new"']::jsonb[], idempotency_keys => ARRAY['ml-1', 'ml-2']);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'ml_r';

-- A larger max_length makes room at once; a smaller one keeps what is
-- there and refuses new messages until the queue is below it.
SELECT mq_alter_queue('ml_r', max_length => 4);
SELECT mq_send('ml_r', '4') AS id \gset
SELECT mq_alter_queue('ml_r', max_length => 2);
SELECT mq_send('ml_r', '5');
\echo :SQLSTATE
SELECT count(*) FROM mq_pop('ml_r', 2);
SELECT mq_send('ml_r', '5');
\echo :SQLSTATE
SELECT count(*) FROM mq_pop('ml_r');
SELECT mq_send('ml_r', '5') AS id \gset
SELECT body FROM mq_peek('ml_r');
-- Without max_length there is no limit.
SELECT mq_alter_queue('ml_r', reset => '{max_length}');
SELECT count(*) FROM mq_send_batch('ml_r', ARRAY['6', '7', '8']::jsonb[]);
SELECT depth, max_length FROM mq_queues WHERE queue = 'ml_r';

-- drop_oldest: the head of the queue in delivery order makes room, as dead
-- letters with reason "max_length".
SELECT mq_create_queue('ml_dlq');
SELECT mq_create_queue('ml_d', max_length => 3, overflow => 'drop_oldest', dead_letter_queue => 'ml_dlq');
SELECT queue, max_length, overflow, dead_letter_queue FROM mq_queues WHERE queue = 'ml_d';
SELECT mq_send('ml_d', '"m1"') AS id \gset
SELECT mq_send('ml_d', '"m2"', headers => '{"h": 2}', priority => 5) AS id \gset
SELECT mq_send('ml_d', '"m3"') AS id \gset
SELECT clock_timestamp() AS t0 \gset
-- The highest priority goes first ...
SELECT mq_send('ml_d', '"m4"') AS id \gset
SELECT body, priority FROM mq_peek('ml_d');
SELECT m.body, m.priority, m.deliveries, m.headers - 'mq_dead_letter' AS headers,
       m.headers->'mq_dead_letter'->>'queue' AS dl_queue,
       m.headers->'mq_dead_letter'->>'reason' AS reason,
       m.headers->'mq_dead_letter'->'deliveries' AS dl_deliveries,
       (m.headers->'mq_dead_letter'->>'at')::timestamptz BETWEEN :'t0' AND clock_timestamp() AS at_ok
  FROM mq_peek('ml_dlq') AS m;
-- ... then the oldest; the new message is not in the queue yet, whatever
-- its priority.
SELECT mq_send('ml_d', '"m5"', priority => 9) AS id \gset
SELECT body, priority FROM mq_peek('ml_d');
-- A batch makes room for all of its messages.
SELECT count(*) FROM mq_send_batch('ml_d', ARRAY['"b1"', '"b2"']::jsonb[]);
SELECT body, priority FROM mq_peek('ml_d');
SELECT body, priority, headers->'mq_dead_letter'->>'reason' AS reason FROM mq_peek('ml_dlq');
-- A batch larger than max_length cannot fit: 53400, nothing dropped.
SELECT count(*) FROM mq_send_batch('ml_d', ARRAY['"c1"', '"c2"', '"c3"', '"c4"']::jsonb[]);
\echo :SQLSTATE
SELECT body FROM mq_peek('ml_d');
SELECT depth FROM mq_queues WHERE queue = 'ml_dlq';

-- Only ready messages make room: leased and delayed ones stay, and a send
-- that finds too few ready messages raises 53400 and drops nothing.
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('ml_d', 2, vt => '1 hour') \gset
SELECT count(*) FROM mq_send_batch('ml_d', ARRAY['"d1"', '"d2"']::jsonb[]);
\echo :SQLSTATE
SELECT body FROM mq_peek('ml_d');
-- (A single send still finds one ready message to drop.)
SELECT mq_send('ml_d', '"late"', delay => '1 hour') AS id \gset
SELECT body FROM mq_peek('ml_d');
SELECT mq_send('ml_d', '"no room"');
\echo :SQLSTATE
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'ml_d';
-- A nacked message is ready again and makes room, with its deliveries.
SELECT mq_nack('ml_d', (:'rs'::bigint[])[1]);
SELECT mq_send('ml_d', '"room"') AS id \gset
SELECT body, headers->'mq_dead_letter'->>'reason' AS reason, headers->'mq_dead_letter'->'deliveries' AS dl_deliveries
  FROM mq_peek('ml_dlq') WHERE body = '"m4"';
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'ml_d';
-- Duplicates make no room.
SELECT mq_send('ml_d', '"room"', idempotency_key => 'ml-d') AS keyed_id \gset
SELECT depth FROM mq_queues WHERE queue = 'ml_dlq';
SELECT mq_send('ml_d', '"room again"', idempotency_key => 'ml-d') = :keyed_id AS same_id;
SELECT depth FROM mq_queues WHERE queue = 'ml_dlq';
SELECT sent, dead_lettered FROM mq_stats WHERE queue = 'ml_d';

-- Without a dead-letter queue the dropped messages are gone.
SELECT mq_create_queue('ml_nodlq', max_length => 2, overflow => 'drop_oldest');
SELECT count(*) FROM mq_send_batch('ml_nodlq', ARRAY['1', '2']::jsonb[]);
SELECT count(*) FROM mq_send_batch('ml_nodlq', ARRAY['3', '4']::jsonb[]);
SELECT mq_send('ml_nodlq', '5') AS id \gset
SELECT body FROM mq_peek('ml_nodlq');
SELECT depth, sent, dead_lettered
  FROM mq_queues JOIN mq_stats USING (queue) WHERE queue = 'ml_nodlq';
-- In the sender's transaction: rolled back, the dropped messages are back.
BEGIN;
SELECT count(*) FROM mq_send_batch('ml_nodlq', ARRAY['6', '7']::jsonb[]);
SELECT body FROM mq_peek('ml_nodlq');
ROLLBACK;
SELECT body FROM mq_peek('ml_nodlq');

-- Clean up.
SELECT mq_drop_queue(q) FROM unnest(ARRAY['ml_r', 'ml_d', 'ml_nodlq', 'ml_dlq']) AS q;
