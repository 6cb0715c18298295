--
-- Idempotency keys: within the queue's dedup_window of a first send with a
-- key, a send with the same key to the same queue inserts nothing and
-- returns the first message's id.
--
-- Message ids vary between runs; they are compared in SQL.
--
SELECT mq_create_queue('idem_q');
SELECT mq_create_queue('idem_other');
SELECT queue, dedup_window FROM mq_queues WHERE queue LIKE 'idem\_%' ORDER BY queue;

-- A duplicate returns the first id; bodies, headers and priority are not
-- compared, and nothing is inserted.
SELECT mq_send('idem_q', '{"order": 1}', idempotency_key => 'order-1') AS first_id \gset
SELECT mq_send('idem_q', '{"order": "changed"}', headers => '{"h": 1}', priority => 9,
               idempotency_key => 'order-1') = :first_id AS same_id;
SELECT id = :first_id AS is_first, body, headers, priority FROM mq_peek('idem_q');
-- Keys are compared exactly: another case or a trailing space is another key.
SELECT mq_send('idem_q', '"upper"', idempotency_key => 'ORDER-1') = :first_id AS same_id;
SELECT mq_send('idem_q', '"space"', idempotency_key => 'order-1 ') = :first_id AS same_id;
SELECT depth FROM mq_queues WHERE queue = 'idem_q';
SELECT mq_purge('idem_q');

-- Even after the first message was consumed.
SELECT mq_send('idem_q', '"consumed"', idempotency_key => 'order-2') AS first_id \gset
SELECT receipt AS r FROM mq_read('idem_q') \gset
SELECT mq_ack('idem_q', :r);
SELECT mq_send('idem_q', '"consumed"', idempotency_key => 'order-2') = :first_id AS same_id;
SELECT depth FROM mq_queues WHERE queue = 'idem_q';

-- Keys are per queue.
SELECT mq_send('idem_other', '"other queue"', idempotency_key => 'order-2') = :first_id AS same_id;
SELECT body FROM mq_peek('idem_other');

-- A NULL key means no key: every send inserts.
SELECT mq_send('idem_q', '"no key"', idempotency_key => NULL) AS id \gset
SELECT mq_send('idem_q', '"no key"', idempotency_key => NULL) AS id \gset
SELECT count(*) FROM mq_pop('idem_q', 10);

-- Within one transaction the second send finds the first.
BEGIN;
SELECT mq_send('idem_q', '"in tx"', idempotency_key => 'tx-1') AS first_id \gset
SELECT mq_send('idem_q', '"in tx"', idempotency_key => 'tx-1') = :first_id AS same_id;
COMMIT;
SELECT mq_send('idem_q', '"in tx"', idempotency_key => 'tx-1') = :first_id AS same_id;

-- The key is recorded in the sender's transaction: a rolled-back send
-- leaves no key, and the next send with it inserts.
BEGIN;
SELECT mq_send('idem_q', '"rolled back"', idempotency_key => 'rb-1') AS rb_id \gset
ROLLBACK;
SELECT mq_send('idem_q', '"after rollback"', idempotency_key => 'rb-1') AS id \gset
SELECT :id <> :rb_id AS new_id;
SELECT mq_send('idem_q', '"after rollback"', idempotency_key => 'rb-1') = :id AS same_id;
-- Also when only a savepoint rolls back.
BEGIN;
SAVEPOINT sp;
SELECT mq_send('idem_q', '"savepoint"', idempotency_key => 'rb-2') AS rb_id \gset
ROLLBACK TO sp;
SELECT mq_send('idem_q', '"after savepoint"', idempotency_key => 'rb-2') AS id \gset
COMMIT;
SELECT :id <> :rb_id AS new_id;
SELECT body FROM mq_pop('idem_q', 10);

-- Key length: 1 to 1000 bytes (bytes, not characters).
SELECT mq_send('idem_q', '"1 byte"', idempotency_key => 'k') AS id \gset
SELECT mq_send('idem_q', '"1000 bytes"', idempotency_key => repeat('k', 1000)) AS id_1000 \gset
SELECT mq_send('idem_q', '"1000 bytes, 500 characters"', idempotency_key => repeat('é', 500)) AS id \gset
SELECT mq_send('idem_q', '"1000 bytes"', idempotency_key => repeat('k', 1000)) = :id_1000 AS same_id;
SELECT mq_send('idem_q', '"too long"', idempotency_key => repeat('k', 1001));
\echo :SQLSTATE
SELECT mq_send('idem_q', '"too long"', idempotency_key => repeat('é', 501));
\echo :SQLSTATE
SELECT mq_send('idem_q', '"empty"', idempotency_key => '');
\echo :SQLSTATE
SELECT body FROM mq_pop('idem_q', 10);

-- mq_send_batch: one id per body, in order; a repeated key within the
-- batch yields the id of its first occurrence; NULL elements have no key.
SELECT array_agg(id ORDER BY ord) AS ids
  FROM mq_send_batch('idem_q', ARRAY['"a"', '"b"', '"a again"', '"none 1"', '"none 2"']::jsonb[],
                     idempotency_keys => ARRAY['b-a', 'b-b', 'b-a', NULL, NULL])
       WITH ORDINALITY AS b(id, ord) \gset
SELECT cardinality(:'ids'::bigint[]) AS returned,
       (:'ids'::bigint[])[1] = (:'ids'::bigint[])[3] AS a_twice,
       (SELECT count(DISTINCT x) FROM unnest(:'ids'::bigint[]) AS x) AS distinct_ids;
SELECT m.body, k AS position_in_batch
  FROM mq_peek('idem_q') AS m
  JOIN unnest(:'ids'::bigint[]) WITH ORDINALITY AS i(id, k) ON i.id = m.id
 WHERE k <> 3
 ORDER BY k;
-- Keys of a batch are found by later sends and batches, and the other way
-- round.
SELECT mq_send('idem_q', '"b again"', idempotency_key => 'b-b') = (:'ids'::bigint[])[2] AS same_id;
SELECT mq_send('idem_q', '"single"', idempotency_key => 'single') AS single_id \gset
SELECT array_agg(id ORDER BY ord) AS ids2
  FROM mq_send_batch('idem_q', ARRAY['"x"', '"y"', '"z"']::jsonb[],
                     idempotency_keys => ARRAY['single', 'b-a', 'b-new'])
       WITH ORDINALITY AS b(id, ord) \gset
SELECT (:'ids2'::bigint[])[1] = :single_id AS single_found,
       (:'ids2'::bigint[])[2] = (:'ids'::bigint[])[1] AS batch_key_found,
       (:'ids2'::bigint[])[3] <> ALL (:'ids'::bigint[] || :single_id::bigint) AS new_sent;
SELECT depth FROM mq_queues WHERE queue = 'idem_q';
-- Bad key arrays send nothing.
SELECT count(*) FROM mq_send_batch('idem_q', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY['k1']);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('idem_q', ARRAY['1']::jsonb[], idempotency_keys => ARRAY['k1', 'k2']);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('idem_q', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY[['k1'], ['k2']]);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('idem_q', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY['k1', '']);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'idem_q';
-- A rolled-back batch leaves none of its keys.
BEGIN;
SELECT count(*) FROM mq_send_batch('idem_q', ARRAY['"r1"', '"r2"']::jsonb[], idempotency_keys => ARRAY['rb-b1', 'rb-b2']);
ROLLBACK;
SELECT array_agg(id) AS ids FROM mq_send_batch('idem_q', ARRAY['"r1"']::jsonb[], idempotency_keys => ARRAY['rb-b2']) AS b(id) \gset
SELECT body FROM mq_peek('idem_q') WHERE id = ANY (:'ids'::bigint[]);
SELECT mq_purge('idem_q');

-- dedup_window 0: no deduplication.
SELECT mq_create_queue('idem_zero', dedup_window => '0');
SELECT mq_send('idem_zero', '"one"', idempotency_key => 'z') AS first_id \gset
SELECT mq_send('idem_zero', '"two"', idempotency_key => 'z') <> :first_id AS new_id;
SELECT array_agg(id) AS ids FROM mq_send_batch('idem_zero', ARRAY['"three"', '"four"']::jsonb[], idempotency_keys => ARRAY['z', 'z']) AS b(id) \gset
SELECT (:'ids'::bigint[])[1] <> (:'ids'::bigint[])[2] AS distinct_ids;
SELECT count(DISTINCT mq_send('idem_zero', to_jsonb(i), idempotency_key => 'z')) AS distinct_ids
  FROM generate_series(5, 6) AS i;
SELECT body FROM mq_peek('idem_zero');

-- After the window has passed a send with the key inserts a new message,
-- which starts a new window; a duplicate within the window does not extend
-- it.
SELECT mq_create_queue('idem_window', dedup_window => '1 second');
SELECT mq_send('idem_window', '"first"', idempotency_key => 'w') AS first_id \gset
SELECT pg_sleep(0.6);
SELECT mq_send('idem_window', '"within"', idempotency_key => 'w') = :first_id AS same_id;
SELECT pg_sleep(0.5);
SELECT mq_send('idem_window', '"after"', idempotency_key => 'w') AS second_id \gset
SELECT :second_id <> :first_id AS new_id;
SELECT mq_send('idem_window', '"within again"', idempotency_key => 'w') = :second_id AS same_id;
SELECT body FROM mq_peek('idem_window');

-- Many keys in one transaction (SPEC section 2: a batch is bounded only
-- by the array limit): keys are locked by slot, so 30 000 of them fit in
-- the default lock table, in one batch, in keyed appends, and in many
-- single keyed sends of one statement; repeating returns the same ids.
SELECT mq_create_queue('idem_many');
SELECT count(*), count(DISTINCT id) FROM mq_send_batch('idem_many',
       array_fill('{}'::jsonb, ARRAY[30000]),
       idempotency_keys => ARRAY(SELECT 'k' || g FROM generate_series(1, 30000) g)) AS id;
SELECT count(*) AS duplicates_found, max(id) FROM mq_send_batch('idem_many',
       array_fill('{}'::jsonb, ARRAY[30000]),
       idempotency_keys => ARRAY(SELECT 'k' || g FROM generate_series(1, 30000) g)) AS id;
SELECT count(mq_send('idem_many', '{}', idempotency_key => 'single' || g))
  FROM generate_series(1, 20000) g;
SELECT depth FROM mq_queues WHERE queue = 'idem_many';
SELECT mq_create_stream('idem_log', partitions => 4);
SELECT count(*), count(DISTINCT (partition, position)) FROM mq_append_batch('idem_log',
       array_fill('{}'::jsonb, ARRAY[30000]),
       keys => ARRAY(SELECT 'u' || g FROM generate_series(1, 30000) g),
       idempotency_keys => ARRAY(SELECT 'a' || g FROM generate_series(1, 30000) g));
SELECT mq_drop_stream('idem_log');

-- Clean up.
SELECT mq_drop_queue(q) FROM unnest(ARRAY['idem_q', 'idem_other', 'idem_zero', 'idem_window', 'idem_many']) AS q;
