-- Bad input to mq_send and mq_send_batch: each failing call raises the
-- SQLSTATE of SPEC section 2 and sends nothing at all.
BEGIN;
SELECT plan(76);
SET LOCAL client_min_messages = warning;

-- Everything stored in a queue, as one value, to compare before and after.
CREATE FUNCTION pg_temp.contents(q text) RETURNS text LANGUAGE sql AS $$
    SELECT format('depth=%s ready=%s inflight=%s delayed=%s bodies=%s',
                  f.depth, f.ready, f.inflight, f.delayed,
                  (SELECT jsonb_agg(jsonb_build_array(m.id, m.body, m.headers, m.priority, m.deliveries) ORDER BY m.id)
                     FROM mq_peek(q, 10000) AS m))
      FROM mq_queues AS f WHERE f.queue = q
$$;

SELECT lives_ok($$SELECT mq_create_queue('send_err')$$, 'create the test queue');
SELECT lives_ok($$SELECT mq_send('send_err', '{"n": 1}', headers => '{"h": 1}', priority => 4)$$, 'a first message');
SELECT lives_ok($$SELECT mq_send('send_err', '{"n": 2}', delay => '1 hour')$$, 'a delayed message');
SELECT pg_temp.contents('send_err') AS before \gset

-- mq_send: NULL where a value is required.
SELECT throws_ok($$SELECT mq_send('send_err', NULL)$$, '22023', NULL, 'send: body NULL');
SELECT throws_ok($$SELECT mq_send('send_err', NULL::jsonb, '{}')$$, '22023', NULL, 'send: body NULL with headers');
SELECT throws_ok($$SELECT mq_send('send_err', '1', delay => NULL)$$, '22023', NULL, 'send: delay NULL');
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => NULL)$$, '22023', NULL, 'send: priority NULL');

-- Headers that are not an object, or use a reserved key.
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '[1, 2]')$$, '22023', NULL, 'send: headers an array');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '[]')$$, '22023', NULL, 'send: headers an empty array');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '"text"')$$, '22023', NULL, 'send: headers a string');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '42')$$, '22023', NULL, 'send: headers a number');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => 'true')$$, '22023', NULL, 'send: headers a boolean');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => 'null')$$, '22023', NULL, 'send: headers JSON null');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '{"mq_dead_letter": {}}')$$, '22023', NULL, 'send: reserved header mq_dead_letter');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '{"a": 1, "mq_topic": "t"}')$$, '22023', NULL, 'send: reserved header among others');
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '{"mq_": 1}')$$, '22023', NULL, 'send: reserved header mq_');

-- Out-of-range values.
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => -1)$$, '22023', NULL, 'send: priority -1');
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => 256)$$, '22023', NULL, 'send: priority 256');
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => 2147483647)$$, '22023', NULL, 'send: priority max int');
SELECT throws_ok($$SELECT mq_send('send_err', '1', delay => '-1 second')$$, '22023', NULL, 'send: negative delay');
SELECT throws_ok($$SELECT mq_send('send_err', '1', delay => '-1 day')$$, '22023', NULL, 'send: negative delay in days');
SELECT throws_ok($$SELECT mq_send('send_err', '1', delay => '1 day -25 hours')$$, '22023', NULL, 'send: delay negative in total');

-- Not supported yet.
SELECT throws_ok($$SELECT mq_send('send_err', '1', idempotency_key => 'k1')$$, '0A000', NULL, 'send: idempotency_key not supported yet');
SELECT throws_ok($$SELECT mq_send('send_err', '1', idempotency_key => '')$$, '0A000', NULL, 'send: empty idempotency_key not supported yet');
-- An invalid value is reported before the unsupported key.
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => 300, idempotency_key => 'k')$$, '22023', NULL, 'send: invalid priority before unsupported key');

-- An unknown queue, and a bad argument on top of it.
SELECT throws_ok($$SELECT mq_send('send_missing', '1')$$, '42704', NULL, 'send: unknown queue');

SELECT is(pg_temp.contents('send_err'), :'before', 'no failed mq_send changed the queue');

-- Accepted edge values.
SELECT lives_ok($$SELECT mq_send('send_err', '"p0"', priority => 0)$$, 'send: priority 0');
SELECT lives_ok($$SELECT mq_send('send_err', '"p255"', priority => 255)$$, 'send: priority 255');
SELECT lives_ok($$SELECT mq_send('send_err', '"no delay"', delay => '0')$$, 'send: delay 0');
SELECT lives_ok($$SELECT mq_send('send_err', '"mixed"', delay => '1 day -23 hours')$$, 'send: a positive delay with mixed signs');
SELECT lives_ok($$SELECT mq_send('send_err', 'null')$$, 'send: JSON null body');
SELECT lives_ok($$SELECT mq_send('send_err', '{}', headers => '{"nested": {"mq_x": 1}, "x_mq_": 2, "MQ": 3}')$$, 'send: mq_ deeper down or not at the start is allowed');
SELECT lives_ok($$SELECT mq_send('send_err', '1', idempotency_key => NULL)$$, 'send: idempotency_key NULL');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'send_err'), 9::bigint, 'seven messages more');
SELECT lives_ok($$SELECT mq_purge('send_err')$$, 'empty the queue');
SELECT lives_ok($$SELECT mq_send('send_err', '{"n": 1}', headers => '{"h": 1}', priority => 4)$$, 'a first message again');
SELECT pg_temp.contents('send_err') AS before \gset

-- mq_send_batch: NULL and NULL elements.
SELECT throws_ok($$SELECT mq_send_batch('send_err', NULL)$$, '22023', NULL, 'batch: bodies NULL');
SELECT throws_ok($$SELECT mq_send_batch('send_err', NULL::jsonb[], ARRAY['{}']::jsonb[])$$, '22023', NULL, 'batch: bodies NULL with headers');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY[NULL]::jsonb[])$$, '22023', NULL, 'batch: bodies {NULL}');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2', NULL]::jsonb[])$$, '22023', NULL, 'batch: last body NULL');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY[NULL, '2']::jsonb[], ARRAY['{}', '{}']::jsonb[])$$, '22023', NULL, 'batch: first body NULL, with headers');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], delay => NULL)$$, '22023', NULL, 'batch: delay NULL');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], priority => NULL)$$, '22023', NULL, 'batch: priority NULL');

-- Multi-dimensional arrays.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY[['1', '2'], ['3', '4']]::jsonb[])$$, '22023', NULL, 'batch: two-dimensional bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY[['1']]::jsonb[])$$, '22023', NULL, 'batch: 1x1 bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY[['{}'], ['{}']]::jsonb[])$$, '22023', NULL, 'batch: two-dimensional headers');

-- Headers of another length than bodies.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['{}']::jsonb[])$$, '22023', NULL, 'batch: fewer headers than bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], ARRAY['{}', '{}']::jsonb[])$$, '22023', NULL, 'batch: more headers than bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], '{}'::jsonb[])$$, '22023', NULL, 'batch: empty headers, two bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', '{}'::jsonb[], ARRAY['{}']::jsonb[])$$, '22023', NULL, 'batch: one header, no bodies');

-- Header elements that are not objects, or use reserved keys.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['{}', '[1]']::jsonb[])$$, '22023', NULL, 'batch: a header element that is an array');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['"s"', '{}']::jsonb[])$$, '22023', NULL, 'batch: a header element that is a string');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['{}', '7']::jsonb[])$$, '22023', NULL, 'batch: a header element that is a number');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['null', '{}']::jsonb[])$$, '22023', NULL, 'batch: a header element that is JSON null');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['{}', '{"mq_x": 1}']::jsonb[])$$, '22023', NULL, 'batch: a reserved header key in the last element');

-- Out-of-range values.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], priority => -1)$$, '22023', NULL, 'batch: priority -1');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], priority => 256)$$, '22023', NULL, 'batch: priority 256');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], delay => '-1 second')$$, '22023', NULL, 'batch: negative delay');

-- Not supported yet.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], idempotency_keys => ARRAY['k'])$$, '0A000', NULL, 'batch: idempotency_keys not supported yet');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], idempotency_keys => ARRAY[NULL]::text[])$$, '0A000', NULL, 'batch: idempotency_keys {NULL} not supported yet');
SELECT throws_ok($$SELECT mq_send_batch('send_err', '{}'::jsonb[], idempotency_keys => '{}')$$, '0A000', NULL, 'batch: empty idempotency_keys not supported yet');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', NULL]::jsonb[], idempotency_keys => ARRAY['a', 'b'])$$, '22023', NULL, 'batch: a NULL body is reported before the unsupported keys');

-- An unknown queue.
SELECT throws_ok($$SELECT mq_send_batch('send_missing', ARRAY['1']::jsonb[])$$, '42704', NULL, 'batch: unknown queue');
SELECT throws_ok($$SELECT mq_send_batch('send_missing', '{}'::jsonb[])$$, '42704', NULL, 'batch: unknown queue, empty batch');

SELECT is(pg_temp.contents('send_err'), :'before', 'no failed mq_send_batch changed the queue');

-- Accepted batches.
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[])), 0::bigint, 'batch: empty bodies return no rows');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[], '{}'::jsonb[])), 0::bigint, 'batch: empty bodies and headers return no rows');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[], NULL, '0', 0, NULL)), 0::bigint, 'batch: empty bodies with every argument');
SELECT is(pg_temp.contents('send_err'), :'before', 'empty batches send nothing');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', ARRAY['"h null"', '"h obj"']::jsonb[], ARRAY[NULL, '{"a": 1}']::jsonb[])),
          2::bigint, 'batch: a NULL header element means no headers');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '[5:6]={"\"lb 5\"", "\"lb 6\""}'::jsonb[])),
          2::bigint, 'batch: an array with another lower bound');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', ARRAY['"p255"']::jsonb[], priority => 255, delay => '0')),
          1::bigint, 'batch: priority 255');
SELECT results_eq($$SELECT body, headers FROM mq_peek('send_err', 100) ORDER BY id$$,
                  $$VALUES ('{"n": 1}'::jsonb, '{"h": 1}'::jsonb), ('"h null"', NULL), ('"h obj"', '{"a": 1}'),
                           ('"lb 5"', NULL), ('"lb 6"', NULL), ('"p255"', NULL)$$,
                  'the accepted batches, in order');

-- Sends inside a failed statement roll back with it.
SELECT throws_ok($$SELECT mq_send('send_err', to_jsonb(i), priority => 10 * i) FROM generate_series(1, 30) AS i$$,
                 '22023', NULL, 'the 26th send of a statement fails on its priority');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'send_err'), 6::bigint, 'the 25 sends before it are gone too');

SELECT * FROM finish();
ROLLBACK;
