--
-- Dead letters: max_deliveries and dead_letter_queue, the mq_dead_letter
-- header, mq_redrive, and the dependency of a queue on its dead-letter
-- queue.
--
-- The background worker moves such messages out as well.  It is switched
-- off here, so that every move this file shows is the work of the call
-- under test.
--
ALTER SYSTEM SET queue.worker_enabled = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.1);
DO $$
BEGIN
    FOR i IN 1..1000 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'queue worker');
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
SHOW queue.worker_enabled;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'queue worker';

-- The messages of a queue, with the mq_dead_letter header taken apart: its
-- fields and their JSON types, and whether "at" is a timestamp between
-- since and now.
CREATE FUNCTION pg_temp.letters(q text, since timestamptz)
RETURNS TABLE (body jsonb, priority int, deliveries int, headers jsonb,
               dl_queue text, reason text, dl_deliveries int, dl_fields text, at_ok boolean)
LANGUAGE sql AS $$
    SELECT m.body, m.priority, m.deliveries, m.headers - 'mq_dead_letter',
           m.headers->'mq_dead_letter'->>'queue',
           m.headers->'mq_dead_letter'->>'reason',
           (m.headers->'mq_dead_letter'->>'deliveries')::int,
           (SELECT string_agg(k || ':' || jsonb_typeof(m.headers->'mq_dead_letter'->k), ' ' ORDER BY k)
              FROM jsonb_object_keys(m.headers->'mq_dead_letter') AS k),
           (m.headers->'mq_dead_letter'->>'at')::timestamptz BETWEEN since AND clock_timestamp()
      FROM mq_peek(q, 10000) AS m
     ORDER BY m.priority DESC, m.id
$$;

-- The dead-letter queue must exist, be a queue, and not be the queue itself.
SELECT mq_create_queue('dl_dlq');
SELECT mq_create_topic('dl_topic');
SELECT mq_create_queue('dl_bad', dead_letter_queue => 'dl_nowhere');
\echo :SQLSTATE
SELECT mq_create_queue('dl_bad', dead_letter_queue => 'dl_topic');
\echo :SQLSTATE
SELECT mq_create_queue('dl_bad', dead_letter_queue => 'dl_bad');
\echo :SQLSTATE
SELECT count(*) FROM mq_queues WHERE queue = 'dl_bad';
SELECT mq_drop_topic('dl_topic');

SELECT mq_create_queue('dl_src', max_deliveries => 2, dead_letter_queue => 'dl_dlq');
SELECT queue, max_deliveries, dead_letter_queue FROM mq_queues WHERE queue LIKE 'dl\_%' ORDER BY queue;

-- Read after the last lease ended: the read moves the message out instead
-- of delivering it a third time, and delivers the others.
SELECT mq_send('dl_src', '{"n": 1}', headers => '{"trace": "t1"}', priority => 3) AS id \gset
SELECT mq_send('dl_src', '{"n": 2}') AS id \gset
SELECT body, deliveries FROM mq_read('dl_src', 10, vt => '0');
SELECT body, deliveries FROM mq_read('dl_src', 10, vt => '0');
SELECT mq_send('dl_src', '{"n": 3}') AS id \gset
-- Messages that used up their deliveries are never shown by mq_peek.
SELECT body, deliveries FROM mq_peek('dl_src');
SELECT depth FROM mq_queues WHERE queue = 'dl_src';
SELECT clock_timestamp() AS t0 \gset
SELECT body, deliveries FROM mq_read('dl_src', 10, vt => '1 hour');
SELECT queue, depth, inflight FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;
-- Body, headers and priority are kept; the header tells where from, why,
-- after how many deliveries and when; deliveries start again at 0.
SELECT * FROM pg_temp.letters('dl_dlq', :'t0');
SELECT mq_purge('dl_dlq');

-- A nack of the last allowed delivery moves the message at once, in the
-- nacking transaction; an earlier nack does not.
SELECT mq_purge('dl_src');
SELECT mq_send('dl_src', '"nacked"', priority => 4) AS id \gset
SELECT receipt AS r FROM mq_read('dl_src', vt => '1 hour') \gset
SELECT mq_nack('dl_src', :r);
SELECT body, deliveries FROM mq_peek('dl_src');
SELECT receipt AS r FROM mq_read('dl_src', vt => '1 hour') \gset
SELECT clock_timestamp() AS t0 \gset
BEGIN;
SELECT mq_nack('dl_src', :r);
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;
ROLLBACK;
-- Rolled back: the message is back under its lease, the receipt still valid.
SELECT queue, depth, inflight FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;
SELECT mq_nack('dl_src', :r, delay => '1 hour');
SELECT queue, depth, inflight, delayed FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;
SELECT * FROM pg_temp.letters('dl_dlq', :'t0');
SELECT mq_purge('dl_dlq');

-- mq_pop meets a used-up message the same way.
SELECT mq_send('dl_src', '"popped at last"') AS id \gset
SELECT count(*) FROM mq_read('dl_src', vt => '0');
SELECT count(*) FROM mq_read('dl_src', vt => '0');
SELECT body FROM mq_pop('dl_src');
SELECT body, reason, dl_deliveries FROM pg_temp.letters('dl_dlq', :'t0');
SELECT mq_purge('dl_dlq');

-- A read that rolls back still counts its delivery (a poison message).
SELECT mq_send('dl_src', '"poison"') AS id \gset
BEGIN;
SELECT body, deliveries FROM mq_read('dl_src');
ROLLBACK;
BEGIN;
SELECT body, deliveries FROM mq_read('dl_src');
ROLLBACK;
SELECT body FROM mq_read('dl_src');
SELECT body, reason, dl_deliveries FROM pg_temp.letters('dl_dlq', :'t0');
SELECT mq_purge('dl_dlq');

-- Without a dead-letter queue the message is dropped.
SELECT mq_create_queue('dl_nodlq', max_deliveries => 1);
SELECT mq_send('dl_nodlq', '"dropped"') AS id \gset
SELECT mq_send('dl_nodlq', '"nacked"') AS id \gset
SELECT count(*) FROM mq_read('dl_nodlq', vt => '0');
SELECT receipt AS r, body FROM mq_read('dl_nodlq', vt => '1 hour') \gset
\echo :body
SELECT depth FROM mq_queues WHERE queue = 'dl_nodlq';
SELECT mq_nack('dl_nodlq', :r);
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_nodlq', 'dl_dlq') ORDER BY queue;
SELECT sent, delivered, dead_lettered FROM mq_stats WHERE queue = 'dl_nodlq';

-- A dead-letter queue takes dead letters whatever its own max_length.
SELECT mq_create_queue('dl_small', max_length => 1);
SELECT mq_create_queue('dl_to_small', max_deliveries => 1, dead_letter_queue => 'dl_small');
SELECT mq_send('dl_small', '"already there"') AS id \gset
SELECT count(*) FROM mq_send_batch('dl_to_small', ARRAY['"a"', '"b"']::jsonb[]);
SELECT count(*) FROM mq_read('dl_to_small', 2, vt => '0');
SELECT count(*) FROM mq_read('dl_to_small', 2);
SELECT body, dl_queue FROM pg_temp.letters('dl_small', :'t0');
SELECT mq_send('dl_small', '"one too many"');
\echo :SQLSTATE

-- Chained dead-letter queues: a dead letter that dies again carries one
-- mq_dead_letter header, the newest.
SELECT mq_create_queue('dl_c');
SELECT mq_create_queue('dl_b', max_deliveries => 1, dead_letter_queue => 'dl_c');
SELECT mq_create_queue('dl_a', max_deliveries => 1, dead_letter_queue => 'dl_b');
SELECT mq_send('dl_a', '"chained"', headers => '{"k": "v"}', priority => 9) AS id \gset
SELECT count(*) FROM mq_read('dl_a', vt => '0');
SELECT count(*) FROM mq_read('dl_a');
SELECT body, priority, deliveries, headers, dl_queue, reason, dl_deliveries FROM pg_temp.letters('dl_b', :'t0');
SELECT count(*) FROM mq_read('dl_b', vt => '0');
SELECT count(*) FROM mq_read('dl_b');
SELECT * FROM pg_temp.letters('dl_c', :'t0');
-- Redrive sends it back to the queue it came from last.
SELECT mq_redrive('dl_c');
SELECT body, priority, deliveries, headers FROM mq_peek('dl_b');
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_a', 'dl_b', 'dl_c') ORDER BY queue;

-- Dropping a queue that others use as dead-letter queue: 2BP01, naming them.
SELECT mq_alter_queue('dl_a', dead_letter_queue => 'dl_c');
SELECT mq_drop_queue('dl_c');
\echo :SQLSTATE
SELECT mq_drop_queue('dl_c', if_exists => true);
SELECT mq_alter_queue('dl_a', reset => '{dead_letter_queue}');
SELECT mq_drop_queue('dl_c');
\echo :SQLSTATE
SELECT mq_alter_queue('dl_b', dead_letter_queue => NULL, reset => '{dead_letter_queue}');
SELECT mq_drop_queue('dl_c');
SELECT queue, dead_letter_queue FROM mq_queues WHERE queue IN ('dl_a', 'dl_b') ORDER BY queue;

-- mq_redrive: back to the source queue, header removed (headers NULL when
-- nothing else is left), deliveries 0, priority kept, new messages.
SELECT mq_send('dl_src', '"r1"', priority => 1) AS id \gset
SELECT mq_send('dl_src', '"r2"', headers => '{"keep": true}') AS id \gset
SELECT mq_send('dl_src', '"r3"') AS id \gset
SELECT count(*) FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10);
SELECT body, priority, headers, dl_queue, reason, dl_deliveries FROM pg_temp.letters('dl_dlq', :'t0');
SELECT array_agg(id ORDER BY id) AS dead_ids FROM mq_peek('dl_dlq') \gset
-- With max: in delivery order, at most max of them.
SELECT mq_redrive('dl_dlq', 2);
SELECT body, priority, deliveries, headers FROM mq_peek('dl_src');
SELECT body FROM mq_peek('dl_dlq');
SELECT mq_redrive('dl_dlq', max => NULL);
SELECT mq_redrive('dl_dlq');
SELECT body, priority, deliveries, headers, id = ANY (:'dead_ids'::bigint[]) AS old_id FROM mq_peek('dl_src');
-- The redriven messages get their deliveries again.
SELECT body, deliveries FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10);
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;

-- Only ready dead letters move: a leased one stays, and so does a message
-- without the header.
SELECT body FROM mq_read('dl_dlq', vt => '1 hour');
SELECT mq_send('dl_dlq', '"no header"') AS id \gset
SELECT mq_redrive('dl_dlq');
SELECT body FROM mq_peek('dl_dlq');
SELECT queue, depth, inflight FROM mq_queues WHERE queue IN ('dl_src', 'dl_dlq') ORDER BY queue;
SELECT mq_purge('dl_dlq');
SELECT mq_purge('dl_src');

-- Dead letters whose source queue was dropped stay where they are, and do
-- not hold back the others, with or without max.
SELECT mq_create_queue('dl_gone', max_deliveries => 1, dead_letter_queue => 'dl_dlq');
SELECT count(*) FROM mq_send_batch('dl_gone', ARRAY['"g1"', '"g2"']::jsonb[]);
SELECT count(*) FROM mq_read('dl_gone', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_gone', 10);
SELECT mq_drop_queue('dl_gone');
SELECT count(*) FROM mq_send_batch('dl_src', ARRAY['"s1"', '"s2"']::jsonb[]);
SELECT count(*) FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10, vt => '0');
SELECT count(*) FROM mq_read('dl_src', 10);
SELECT body, dl_queue FROM pg_temp.letters('dl_dlq', :'t0');
SELECT mq_redrive('dl_dlq', 1);
SELECT mq_redrive('dl_dlq');
SELECT body, dl_queue FROM pg_temp.letters('dl_dlq', :'t0');
SELECT body FROM mq_peek('dl_src');
SELECT mq_purge('dl_dlq');
SELECT mq_purge('dl_src');

-- Redriven messages are not held back by the source's max_length.
SELECT mq_create_queue('dl_full', max_length => 1, max_deliveries => 1, dead_letter_queue => 'dl_dlq');
SELECT mq_send('dl_full', '"first"') AS id \gset
SELECT count(*) FROM mq_read('dl_full', vt => '0');
SELECT count(*) FROM mq_read('dl_full');
SELECT mq_send('dl_full', '"second"') AS id \gset
SELECT mq_redrive('dl_dlq');
SELECT body FROM mq_peek('dl_full');
SELECT depth FROM mq_queues WHERE queue = 'dl_full';

-- mq_redrive's arguments.
SELECT mq_redrive('dl_dlq', 0);
\echo :SQLSTATE
SELECT mq_redrive('dl_dlq', -1);
\echo :SQLSTATE
SELECT mq_redrive(NULL);
\echo :SQLSTATE
SELECT mq_redrive('dl_nowhere');
\echo :SQLSTATE

-- At most 1000 messages leave a queue this way per call; the rest wait for
-- the next call.
SELECT mq_create_queue('dl_many', max_deliveries => 1, dead_letter_queue => 'dl_dlq');
SELECT count(*) FROM mq_send_batch('dl_many', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 1005) AS i));
SELECT count(*) FROM mq_read('dl_many', 2000, vt => '0');
SELECT mq_send('dl_many', '"fresh"') AS id \gset
SELECT body, deliveries FROM mq_read('dl_many', 10, vt => '1 hour');
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_many', 'dl_dlq') ORDER BY queue;
SELECT count(*) FROM mq_read('dl_many', 10);
SELECT queue, depth FROM mq_queues WHERE queue IN ('dl_many', 'dl_dlq') ORDER BY queue;
SELECT min(body::int), max(body::int), count(DISTINCT body) FROM mq_peek('dl_dlq', 10000);

-- Clean up, and the worker back on.
SELECT mq_drop_queue(q) FROM unnest(ARRAY['dl_src', 'dl_nodlq', 'dl_to_small', 'dl_small',
                                          'dl_a', 'dl_b', 'dl_full', 'dl_many', 'dl_dlq']) AS q;
SELECT count(*) FROM mq_queues WHERE queue LIKE 'dl\_%';
ALTER SYSTEM RESET queue.worker_enabled;
SELECT pg_reload_conf();
