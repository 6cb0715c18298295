--
-- Sending: mq_send (body, headers, delay, priority) and mq_send_batch.
--
-- Message ids and timestamps vary between runs, so they are compared in
-- SQL rather than printed.
--
SELECT mq_create_queue('send_q');

-- mq_send returns the new message's id; ids grow with every send.
SELECT mq_send('send_q', '{"n": 1}') AS id1 \gset
SELECT mq_send('send_q', '{"n": 2}') AS id2 \gset
SELECT :id2 > :id1 AS ids_grow;

-- A message as stored: body, no headers, priority 0, ready since it was
-- enqueued, never delivered.
SELECT id = :id1 AS is_id1, receipt, body, headers, deliveries, priority,
       visible_at = enqueued_at AS ready_at_once,
       enqueued_at BETWEEN clock_timestamp() - interval '1 minute' AND clock_timestamp() AS enqueued_recently
  FROM mq_peek('send_q') WHERE id = :id1;

-- Any JSON value is a body: objects, arrays, scalars, JSON null, and large
-- documents (stored out of line).
SELECT mq_purge('send_q');
SELECT mq_send('send_q', '[1, "two", {"three": 3}]') AS id \gset
SELECT mq_send('send_q', '"a string"') AS id \gset
SELECT mq_send('send_q', '42.5') AS id \gset
SELECT mq_send('send_q', 'null') AS id \gset
SELECT mq_send('send_q', 'true') AS id \gset
SELECT mq_send('send_q', jsonb_build_object('big', repeat('0123456789', 100000))) AS id \gset
SELECT jsonb_typeof(body) AS type,
       CASE WHEN length(body::text) > 100 THEN length(body->>'big')::text ELSE body::text END AS body
  FROM mq_peek('send_q') ORDER BY id;
SELECT body = jsonb_build_object('big', repeat('0123456789', 100000)) AS big_body_intact
  FROM mq_pop('send_q', 10) WHERE body ? 'big';
SELECT mq_purge('send_q');

-- Headers: a JSON object, returned as given; NULL means none; keys that
-- merely contain "mq_" later on are allowed.
SELECT mq_send('send_q', '"with headers"', headers => '{"trace": "abc", "retry": {"n": 2}, "x_mq_y": 1}') AS id \gset
SELECT mq_send('send_q', '"empty headers"', headers => '{}') AS id \gset
SELECT mq_send('send_q', '"no headers"', headers => NULL) AS id \gset
SELECT body, headers FROM mq_peek('send_q') ORDER BY id;
-- A header key starting with "mq_" is reserved, and the failed send adds nothing.
SELECT mq_send('send_q', '"bad"', headers => '{"ok": 1, "mq_topic": "x"}');
\echo :SQLSTATE
SELECT mq_send('send_q', '"bad"', headers => '[1, 2]');
\echo :SQLSTATE
SELECT count(*) FROM mq_peek('send_q');
SELECT mq_purge('send_q');

-- Priority is stored and returned.
SELECT mq_send('send_q', '"p0"') AS id \gset
SELECT mq_send('send_q', '"p255"', priority => 255) AS id \gset
SELECT mq_send('send_q', '"p7"', priority => 7) AS id \gset
SELECT body, priority FROM mq_peek('send_q') ORDER BY id;
SELECT mq_purge('send_q');

-- A delayed message is stored (depth) but not ready until its delay ends.
SELECT mq_send('send_q', '"later"', delay => '1 hour') AS delayed_id \gset
SELECT mq_send('send_q', '"now"', delay => '0') AS id \gset
SELECT body FROM mq_peek('send_q');
SELECT depth, ready, delayed FROM mq_queues WHERE queue = 'send_q';
SELECT body FROM mq_read('send_q', 10);
SELECT mq_purge('send_q');

-- Once ready, a delayed message shows visible_at = enqueued_at + delay.
SELECT mq_send('send_q', '"soon"', delay => '1 second') AS id \gset
SELECT count(*) AS ready_before FROM mq_peek('send_q');
SELECT pg_sleep(1.1);
SELECT body, visible_at - enqueued_at AS delay FROM mq_peek('send_q');
SELECT mq_purge('send_q');

-- enqueued_at is the wall clock at the send, not the start of the
-- transaction.
BEGIN;
SELECT pg_sleep(0.2);
SELECT mq_send('send_q', '"in transaction"') AS id \gset
SELECT enqueued_at >= now() + interval '0.2 seconds' AS wall_clock
  FROM mq_peek('send_q') WHERE id = :id;
COMMIT;
SELECT mq_purge('send_q');

-- mq_send_batch returns one id per body, in the order of the bodies, and
-- applies headers element by element.
SELECT array_agg(id ORDER BY ord) AS ids
  FROM mq_send_batch('send_q',
                     ARRAY['"b1"', '"b2"', '"b3"']::jsonb[],
                     headers => ARRAY['{"h": 1}', NULL, '{"h": 3}']::jsonb[])
       WITH ORDINALITY AS b(id, ord) \gset
SELECT cardinality(:'ids'::bigint[]) AS returned,
       (:'ids'::bigint[])[1] < (:'ids'::bigint[])[2] AND (:'ids'::bigint[])[2] < (:'ids'::bigint[])[3] AS in_order;
SELECT m.body, m.headers, m.id = (:'ids'::bigint[])[k] AS id_matches
  FROM mq_peek('send_q') m
  JOIN unnest(:'ids'::bigint[]) WITH ORDINALITY AS i(id, k) ON i.id = m.id
 ORDER BY k;
SELECT mq_purge('send_q');

-- delay and priority apply to every message of the batch.
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['1', '2']::jsonb[], priority => 9);
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['3', '4']::jsonb[], delay => '1 hour');
SELECT body, priority FROM mq_peek('send_q') ORDER BY id;
SELECT depth, ready, delayed FROM mq_queues WHERE queue = 'send_q';
SELECT mq_purge('send_q');

-- An empty batch is a no-op that returns no rows.
SELECT * FROM mq_send_batch('send_q', '{}');
SELECT * FROM mq_send_batch('send_q', '{}', headers => '{}');
SELECT depth FROM mq_queues WHERE queue = 'send_q';

-- Bad batches send nothing at all.
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['1', NULL, '3']::jsonb[]);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['1', '2']::jsonb[], headers => ARRAY['{}']::jsonb[]);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['1', '2']::jsonb[], headers => ARRAY['{}', '{"mq_x": 1}']::jsonb[]);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('send_q', ARRAY[['1', '2'], ['3', '4']]::jsonb[]);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'send_q';

-- A batch of 500 000 messages.
SELECT count(*) AS sent, count(DISTINCT id) AS distinct_ids
  FROM mq_send_batch('send_q', (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 500000) AS i)) AS id;
SELECT depth, ready FROM mq_queues WHERE queue = 'send_q';
SELECT body FROM mq_read('send_q', 2);
SELECT mq_purge('send_q');

-- A rolled-back send leaves nothing.
BEGIN;
SELECT mq_send('send_q', '"rolled back"') AS id \gset
SELECT count(*) FROM mq_send_batch('send_q', ARRAY['1', '2']::jsonb[]);
ROLLBACK;
SELECT depth FROM mq_queues WHERE queue = 'send_q';

SELECT mq_drop_queue('send_q');
