--
-- mq_read's ack (settle the previous batch, then read, in one statement)
-- and filter (only messages whose body contains a jsonb).
--
SELECT mq_create_queue('raf_q');
SELECT count(*) FROM (
  SELECT mq_send('raf_q', jsonb_build_object('n', g, 'kind', CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END))
    FROM generate_series(1, 6) g) s;

-- A filter takes only the bodies that contain it, in delivery order, and
-- passes over the others, which stay ready.
SELECT id, deliveries, body FROM mq_read('raf_q', 2, '1 hour', filter => '{"kind": "even"}');
SELECT id FROM mq_read('raf_q', 10, '1 hour', filter => '{"kind": "none"}');
SELECT id, state FROM mq_inspect('raf_q');
-- Nested and array containment, as @> tests it.
SELECT mq_send('raf_q', '{"n": 7, "order": {"lines": [{"sku": "a"}, {"sku": "b"}]}}') AS id7 \gset
SELECT id FROM mq_read('raf_q', 10, '1 hour', filter => '{"order": {"lines": [{"sku": "b"}]}}');

-- ack: the receipts are acked first, as mq_ack(..., strict => false)
-- would, then the read goes on.
SELECT array_agg(receipt ORDER BY id) AS batch FROM mq_read('raf_q', 2, '1 hour') \gset
SELECT id, deliveries FROM mq_read('raf_q', 2, '1 hour', ack => :'batch');
SELECT id, state FROM mq_inspect('raf_q');
-- Receipts acked already, and a made-up one, ack nothing; the read still
-- happens, and nothing is raised.
SELECT mq_send('raf_q', '{"n": 8}') AS id8 \gset
SELECT id FROM mq_read('raf_q', 10, '1 hour', ack => :'batch'::bigint[] || 12345::bigint);
SELECT acked FROM mq_stats WHERE queue = 'raf_q';
-- NULL and an empty array ack nothing.
SELECT count(*) FROM mq_read('raf_q', 10, ack => NULL);
SELECT count(*) FROM mq_read('raf_q', 10, ack => '{}');

-- A read whose ack removed a message does not wait: with nothing ready it
-- returns at once.
SELECT mq_send('raf_q', '{"n": 9}') AS id9 \gset
SELECT receipt AS r9 FROM mq_read('raf_q', 1, '1 hour') \gset
SELECT count(*) AS got, clock_timestamp() - statement_timestamp() < interval '3 seconds' AS at_once
  FROM mq_read('raf_q', 10, '1 hour', wait => '10 seconds', ack => ARRAY[:r9]);
SELECT count(*) FROM mq_inspect('raf_q') WHERE id = :id9;

-- Bad input.
SELECT mq_read('raf_q', ack => ARRAY[NULL::bigint]);
\echo :SQLSTATE

SELECT mq_drop_queue('raf_q');
