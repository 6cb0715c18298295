--
-- mq_import: messages brought from another system keep their ids, times,
-- headers and delivery counts; ids ascend and stay above every id the
-- queue gave, and the queue's next id follows them (and last_id).
--
\set VERBOSITY default
SELECT mq_create_queue('imp_q', max_deliveries => 3);
SELECT mq_import('imp_q', ARRAY[5, 7, 9],
                 ARRAY['{"n": 5}', '{"n": 7}', '{"n": 9}']::jsonb[],
                 headers => ARRAY['{"h": 5}', NULL, NULL]::jsonb[],
                 enqueued_at => ARRAY['2026-01-01 00:00:00+00', NULL, '2026-01-02 00:00:00+00']::timestamptz[],
                 visible_at => ARRAY[NULL, now() + interval '1 hour', NULL]::timestamptz[],
                 deliveries => ARRAY[0, 1, 3]);
SELECT id, state, deliveries, headers, body,
       enqueued_at < now() - interval '1 day' AS enqueued_long_ago
  FROM mq_inspect('imp_q') ORDER BY id;
SELECT last_id, depth, ready, delayed FROM mq_queues WHERE queue = 'imp_q';
-- The next send takes the id after the last imported.
SELECT mq_send('imp_q', '{"n": 10}');
-- Delivery counts go on from where they were: 9 was delivered 3 times
-- (max_deliveries), so its next read drops it.
SELECT id, deliveries FROM mq_read('imp_q', 10, '1 hour') ORDER BY id;
SELECT id FROM mq_inspect('imp_q') ORDER BY id;

-- last_id: the next id is above it, imported messages or not.
SELECT mq_import('imp_q', ARRAY[]::bigint[], ARRAY[]::jsonb[], last_id => 100);
SELECT mq_send('imp_q', '{"n": 101}');
SELECT mq_import('imp_q', ARRAY[]::bigint[], ARRAY[]::jsonb[], last_id => 50);
SELECT last_id FROM mq_queues WHERE queue = 'imp_q';

-- Bad input imports nothing: 22023 each.
SELECT mq_import('imp_q', ARRAY[200, 200], ARRAY['1', '2']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[300, 250], ARRAY['1', '2']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[101, 102], ARRAY['1', '2']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[0], ARRAY['1']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200, NULL], ARRAY['1', '2']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200, 201], ARRAY['1']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200], ARRAY['1']::jsonb[], deliveries => ARRAY[-1]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200], ARRAY['1']::jsonb[], visible_at => ARRAY[now(), now()]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200], ARRAY[NULL]::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_q', ARRAY[200], ARRAY['1']::jsonb[], headers => ARRAY['{"mq_x": 1}']::jsonb[]);
\echo :SQLSTATE
SELECT mq_import('imp_nowhere', ARRAY[1], ARRAY['1']::jsonb[]);
\echo :SQLSTATE
SELECT id FROM mq_inspect('imp_q') ORDER BY id;

-- NULL bodies where the queue takes them.
SELECT mq_create_queue('imp_nulls', allow_null_bodies => true);
SELECT mq_import('imp_nulls', ARRAY[1, 2], ARRAY[NULL, '2']::jsonb[]);
SELECT id, body FROM mq_inspect('imp_nulls') ORDER BY id;

SELECT mq_drop_queue('imp_q');
SELECT mq_drop_queue('imp_nulls');
