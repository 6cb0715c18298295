-- Bad input to mq_send and mq_send_batch: each failing call raises the
-- SQLSTATE of SPEC section 2 and sends nothing at all.
BEGIN;
SELECT plan(95);
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

-- Idempotency keys of 0 or more than 1000 bytes.
SELECT throws_ok($$SELECT mq_send('send_err', '1', idempotency_key => '')$$, '22023', 'idempotency key must be 1 to 1000 bytes long', 'send: empty idempotency_key');
SELECT throws_ok($$SELECT mq_send('send_err', '1', idempotency_key => repeat('k', 1001))$$, '22023', NULL, 'send: idempotency_key of 1001 bytes');
SELECT throws_ok($$SELECT mq_send('send_err', '1', idempotency_key => repeat('é', 501))$$, '22023', NULL, 'send: idempotency_key of 501 characters, 1002 bytes');
SELECT throws_ok($$SELECT mq_send('send_err', '1', priority => 300, idempotency_key => 'k')$$, '22023', NULL, 'send: invalid priority with a valid key');
-- A key that fails its send is not recorded.
SELECT throws_ok($$SELECT mq_send('send_err', '1', headers => '{"mq_x": 1}', idempotency_key => 'k-failed')$$, '22023', NULL, 'send: reserved header with a valid key');

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
SELECT lives_ok($$SELECT mq_send('send_err', '"k1"', idempotency_key => 'k')$$, 'send: idempotency_key of 1 byte');
SELECT lives_ok($$SELECT mq_send('send_err', '"k1000"', idempotency_key => repeat('k', 1000))$$, 'send: idempotency_key of 1000 bytes');
SELECT lives_ok($$SELECT mq_send('send_err', '"k500"', idempotency_key => repeat('é', 500))$$, 'send: idempotency_key of 500 characters, 1000 bytes');
SELECT lives_ok($$SELECT mq_send('send_err', '"k-failed"', idempotency_key => 'k-failed')$$, 'send: the key of a failed send');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'send_err'), 13::bigint, 'eleven messages more');
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

-- idempotency_keys of another length than bodies, multi-dimensional, or
-- with a key of 0 or more than 1000 bytes; and keys with other errors.
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY['a'])$$, '22023', NULL, 'batch: fewer keys than bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1']::jsonb[], idempotency_keys => ARRAY['a', 'b'])$$, '22023', NULL, 'batch: more keys than bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], idempotency_keys => '{}')$$, '22023', NULL, 'batch: empty keys, two bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', '{}'::jsonb[], idempotency_keys => ARRAY['a'])$$, '22023', NULL, 'batch: one key, no bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY[['a'], ['b']])$$, '22023', NULL, 'batch: two-dimensional keys');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2', '3', '4']::jsonb[], idempotency_keys => ARRAY[['a', 'b'], ['c', 'd']])$$, '22023', NULL, 'batch: 2x2 keys for four bodies');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY['a', ''])$$, '22023', NULL, 'batch: an empty key');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY[repeat('k', 1001), 'b'])$$, '22023', NULL, 'batch: a key of 1001 bytes');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', NULL]::jsonb[], idempotency_keys => ARRAY['a', 'b'])$$, '22023', NULL, 'batch: a NULL body with keys');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], priority => 256, idempotency_keys => ARRAY['a', 'b'])$$, '22023', NULL, 'batch: priority 256 with keys');
SELECT throws_ok($$SELECT mq_send_batch('send_err', ARRAY['1', '2']::jsonb[], ARRAY['{}', '{"mq_x": 1}']::jsonb[], idempotency_keys => ARRAY['b-failed', NULL])$$, '22023', NULL, 'batch: a reserved header with keys');

-- An unknown queue.
SELECT throws_ok($$SELECT mq_send_batch('send_missing', ARRAY['1']::jsonb[])$$, '42704', NULL, 'batch: unknown queue');
SELECT throws_ok($$SELECT mq_send_batch('send_missing', '{}'::jsonb[])$$, '42704', NULL, 'batch: unknown queue, empty batch');

SELECT is(pg_temp.contents('send_err'), :'before', 'no failed mq_send_batch changed the queue');

-- Accepted batches.
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[])), 0::bigint, 'batch: empty bodies return no rows');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[], '{}'::jsonb[])), 0::bigint, 'batch: empty bodies and headers return no rows');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[], NULL, '0', 0, NULL)), 0::bigint, 'batch: empty bodies with every argument');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', '{}'::jsonb[], idempotency_keys => '{}')), 0::bigint, 'batch: empty bodies and keys return no rows');
SELECT is(pg_temp.contents('send_err'), :'before', 'empty batches send nothing');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', ARRAY['"b-failed"', '"k null"']::jsonb[], idempotency_keys => ARRAY['b-failed', NULL])),
          2::bigint, 'batch: the key of the failed batch, and a NULL key');
SELECT is((SELECT count(*) FROM mq_send_batch('send_err', ARRAY['"m1000"']::jsonb[], idempotency_keys => ARRAY[repeat('m', 1000)])),
          1::bigint, 'batch: a key of 1000 bytes');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'send_err'), 4::bigint, 'three messages more: no key of a failed batch was kept');
SELECT lives_ok($$SELECT mq_purge('send_err')$$, 'empty the queue');
SELECT lives_ok($$SELECT mq_send('send_err', '{"n": 1}', headers => '{"h": 1}', priority => 4)$$, 'a first message once more');
SELECT pg_temp.contents('send_err') AS before \gset
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
