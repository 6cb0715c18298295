-- Bad input to mq_read, mq_pop, mq_peek, mq_ack, mq_nack and mq_extend,
-- and stale or unknown receipts: 55000 under strict, false (or a count)
-- otherwise.  A failing call leases, deletes and counts nothing.
BEGIN;
SELECT plan(115);
SET LOCAL client_min_messages = warning;

-- Everything stored in a queue, as one value, to compare before and after.
CREATE FUNCTION pg_temp.contents(q text) RETURNS text LANGUAGE sql AS $$
    SELECT format('depth=%s ready=%s inflight=%s delayed=%s bodies=%s',
                  f.depth, f.ready, f.inflight, f.delayed,
                  (SELECT jsonb_agg(jsonb_build_array(m.id, m.body, m.deliveries) ORDER BY m.id)
                     FROM mq_peek(q, 10000) AS m))
      FROM mq_queues AS f WHERE f.queue = q
$$;

SELECT lives_ok($$SELECT mq_create_queue('recv_err')$$, 'create the test queue');
SELECT lives_ok($$SELECT mq_send_batch('recv_err', ARRAY['"a"', '"b"', '"c"']::jsonb[])$$, 'three messages');
SELECT pg_temp.contents('recv_err') AS before \gset

-- mq_read: qty, vt and wait.
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', NULL)$$, '22023', NULL, 'read: qty NULL');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', 0)$$, '22023', NULL, 'read: qty 0');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', -1)$$, '22023', NULL, 'read: qty -1');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', 10001)$$, '22023', NULL, 'read: qty 10001');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', 2147483647)$$, '22023', NULL, 'read: qty max int');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', vt => '-1 second')$$, '22023', NULL, 'read: negative vt');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', vt => '-1 day')$$, '22023', NULL, 'read: negative vt in days');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', wait => NULL)$$, '22023', NULL, 'read: wait NULL');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', wait => '-1 second')$$, '22023', NULL, 'read: negative wait');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', 0, wait => '1 second')$$, '22023', NULL, 'read: bad qty with a wait');
SELECT throws_ok($$SELECT * FROM mq_read('recv_err', vt => '-1 second', wait => '1 second')$$, '22023', NULL, 'read: negative vt with a wait');
SELECT throws_ok($$SELECT * FROM mq_read('recv_missing')$$, '42704', NULL, 'read: unknown queue');
SELECT is(pg_temp.contents('recv_err'), :'before', 'no failed read leased or counted anything');

-- mq_pop and mq_peek: qty.
SELECT throws_ok($$SELECT * FROM mq_pop('recv_err', NULL)$$, '22023', NULL, 'pop: qty NULL');
SELECT throws_ok($$SELECT * FROM mq_pop('recv_err', 0)$$, '22023', NULL, 'pop: qty 0');
SELECT throws_ok($$SELECT * FROM mq_pop('recv_err', -5)$$, '22023', NULL, 'pop: qty -5');
SELECT throws_ok($$SELECT * FROM mq_pop('recv_err', 10001)$$, '22023', NULL, 'pop: qty 10001');
SELECT throws_ok($$SELECT * FROM mq_pop('recv_missing')$$, '42704', NULL, 'pop: unknown queue');
SELECT throws_ok($$SELECT * FROM mq_peek('recv_err', NULL)$$, '22023', NULL, 'peek: qty NULL');
SELECT throws_ok($$SELECT * FROM mq_peek('recv_err', 0)$$, '22023', NULL, 'peek: qty 0');
SELECT throws_ok($$SELECT * FROM mq_peek('recv_err', -5)$$, '22023', NULL, 'peek: qty -5');
SELECT throws_ok($$SELECT * FROM mq_peek('recv_err', 10001)$$, '22023', NULL, 'peek: qty 10001');
SELECT throws_ok($$SELECT * FROM mq_peek('recv_missing')$$, '42704', NULL, 'peek: unknown queue');
SELECT is(pg_temp.contents('recv_err'), :'before', 'no failed pop or peek changed anything');

-- The limits themselves are accepted.
SELECT is((SELECT count(*) FROM mq_peek('recv_err', 1)), 1::bigint, 'peek: qty 1');
SELECT is((SELECT count(*) FROM mq_peek('recv_err', 10000)), 3::bigint, 'peek: qty 10000');
SELECT is((SELECT count(*) FROM mq_read('recv_err', 10000, vt => '0', wait => '0')), 3::bigint, 'read: qty 10000, vt 0, wait 0');
SELECT is((SELECT count(*) FROM mq_read('recv_err', 1, vt => NULL)), 1::bigint, 'read: qty 1, vt NULL');
SELECT lives_ok($$SELECT mq_create_queue('recv_empty')$$, 'an empty queue');
SELECT is((SELECT count(*) FROM mq_read('recv_empty', wait => '1 microsecond')), 0::bigint, 'read: the shortest wait on an empty queue');
SELECT is((SELECT count(*) FROM mq_read('recv_empty', 10000, vt => '0', wait => '10 milliseconds')), 0::bigint, 'read: qty 10000, vt 0, a wait on an empty queue');
SELECT is((SELECT count(*) FROM mq_pop('recv_err', 10000)), 2::bigint, 'pop: qty 10000 takes what is ready');
SELECT lives_ok($$SELECT mq_purge('recv_err')$$, 'empty the queue');

-- Receipts for the checks below: one current delivery per message.
SELECT lives_ok($$SELECT mq_send_batch('recv_err', ARRAY['"r1"', '"r2"', '"r3"']::jsonb[])$$, 'three fresh messages');
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('recv_err', 3, vt => '1 hour') \gset
SELECT pg_temp.contents('recv_err') AS before \gset

-- NULL arguments of ack, nack and extend.
SELECT throws_ok($$SELECT mq_ack('recv_err', NULL::bigint)$$, '22023', NULL, 'ack: receipt NULL');
SELECT throws_ok(format('SELECT mq_ack(%L, %s, NULL)', 'recv_err', (:'rs'::bigint[])[1]), '22023', NULL, 'ack: strict NULL');
SELECT throws_ok($$SELECT mq_ack('recv_err', NULL::bigint[])$$, '22023', NULL, 'ack: receipts NULL');
SELECT throws_ok(format('SELECT mq_ack(%L, ARRAY[%s, NULL]::bigint[])', 'recv_err', (:'rs'::bigint[])[1]), '22023', NULL, 'ack: receipts containing NULL');
SELECT throws_ok(format('SELECT mq_ack(%L, %L::bigint[], NULL)', 'recv_err', :'rs'), '22023', NULL, 'ack: receipts with strict NULL');
SELECT throws_ok(format('SELECT mq_ack(%L, ARRAY[[%s], [%s]]::bigint[])', 'recv_err', (:'rs'::bigint[])[1], (:'rs'::bigint[])[2]), '22023', NULL, 'ack: two-dimensional receipts');
SELECT throws_ok($$SELECT mq_nack('recv_err', NULL)$$, '22023', NULL, 'nack: receipt NULL');
SELECT is(mq_nack('recv_err', 1, NULL, false), false, 'nack: delay NULL is the retry policy, no error');
SELECT throws_ok(format('SELECT mq_nack(%L, %s, %L)', 'recv_err', (:'rs'::bigint[])[1], '-1 second'), '22023', NULL, 'nack: negative delay');
SELECT throws_ok(format('SELECT mq_nack(%L, %s, strict => NULL)', 'recv_err', (:'rs'::bigint[])[1]), '22023', NULL, 'nack: strict NULL');
SELECT throws_ok($$SELECT mq_extend('recv_err', NULL, '1 minute')$$, '22023', NULL, 'extend: receipt NULL');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, NULL)', 'recv_err', (:'rs'::bigint[])[1]), '22023', NULL, 'extend: vt NULL');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L)', 'recv_err', (:'rs'::bigint[])[1], '-1 second'), '22023', NULL, 'extend: negative vt');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L, NULL)', 'recv_err', (:'rs'::bigint[])[1], '1 minute'), '22023', NULL, 'extend: strict NULL');
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_missing', (:'rs'::bigint[])[1]), '42704', NULL, 'ack: unknown queue');
SELECT throws_ok(format('SELECT mq_ack(%L, %L::bigint[])', 'recv_missing', :'rs'), '42704', NULL, 'ack array: unknown queue');
SELECT throws_ok(format('SELECT mq_nack(%L, %s)', 'recv_missing', (:'rs'::bigint[])[1]), '42704', NULL, 'nack: unknown queue');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L)', 'recv_missing', (:'rs'::bigint[])[1], '0'), '42704', NULL, 'extend: unknown queue');
SELECT is(pg_temp.contents('recv_err'), :'before', 'no failed call settled or moved a delivery');

-- Unknown receipts (never issued): 55000 when strict, false or 0 otherwise.
SELECT throws_ok($$SELECT mq_ack('recv_err', 1::bigint)$$, '55000', NULL, 'ack: unknown receipt');
SELECT throws_ok($$SELECT mq_ack('recv_err', -1::bigint, strict => true)$$, '55000', NULL, 'ack: negative receipt');
SELECT throws_ok($$SELECT mq_ack('recv_err', ARRAY[1]::bigint[])$$, '55000', NULL, 'ack array: unknown receipt');
SELECT throws_ok($$SELECT mq_nack('recv_err', 1)$$, '55000', NULL, 'nack: unknown receipt');
SELECT throws_ok($$SELECT mq_nack('recv_err', 1, '1 minute')$$, '55000', NULL, 'nack with delay: unknown receipt');
SELECT throws_ok($$SELECT mq_extend('recv_err', 1, '1 minute')$$, '55000', NULL, 'extend: unknown receipt');
SELECT is(mq_ack('recv_err', 1::bigint, strict => false), false, 'ack non-strict: unknown receipt is false');
SELECT is(mq_ack('recv_err', ARRAY[1, 2, 3]::bigint[], strict => false), 0::bigint, 'ack array non-strict: none acked');
SELECT is(mq_nack('recv_err', 1, strict => false), false, 'nack non-strict: unknown receipt is false');
SELECT is(mq_extend('recv_err', 1, '1 minute', strict => false), false, 'extend non-strict: unknown receipt is false');

-- A receipt of another queue is unknown here.
SELECT lives_ok($$SELECT mq_create_queue('recv_other')$$, 'a second queue');
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_other', (:'rs'::bigint[])[1]), '55000', NULL, 'ack: receipt of another queue');
SELECT throws_ok(format('SELECT mq_nack(%L, %s)', 'recv_other', (:'rs'::bigint[])[1]), '55000', NULL, 'nack: receipt of another queue');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L)', 'recv_other', (:'rs'::bigint[])[1], '0'), '55000', NULL, 'extend: receipt of another queue');
SELECT is(pg_temp.contents('recv_err'), :'before', 'unknown receipts changed nothing');

-- A strict array ack with one bad receipt acks nothing; the good receipts
-- still work afterwards.
SELECT throws_ok(format('SELECT mq_ack(%L, %L::bigint[] || 7::bigint)', 'recv_err', :'rs'), '55000', NULL, 'ack array: one unknown receipt at the end');
SELECT throws_ok(format('SELECT mq_ack(%L, 7::bigint || %L::bigint[])', 'recv_err', :'rs'), '55000', NULL, 'ack array: one unknown receipt at the start');
SELECT is(pg_temp.contents('recv_err'), :'before', 'the failed array acks acked nothing');
SELECT is(mq_ack('recv_err', (:'rs'::bigint[])[1:2] || 7::bigint, strict => false), 2::bigint, 'ack array non-strict: the two good receipts count');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'recv_err'), 1::bigint, 'and only those two were acked');
-- Receipts already acked in this transaction are refused.
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_err', (:'rs'::bigint[])[1]), '55000', NULL, 'ack: receipt already acked');
SELECT throws_ok(format('SELECT mq_nack(%L, %s)', 'recv_err', (:'rs'::bigint[])[2]), '55000', NULL, 'nack: receipt already acked');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L)', 'recv_err', (:'rs'::bigint[])[2], '1 hour'), '55000', NULL, 'extend: receipt already acked');
SELECT is(mq_ack('recv_err', (:'rs'::bigint[])[1], false), false, 'ack non-strict: receipt already acked is false');
SELECT is(mq_ack('recv_err', (:'rs'::bigint[])[3]), true, 'the third receipt acks');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'recv_err'), 0::bigint, 'all three messages acked');

-- Stale receipts: the lease ended and the message was read again.
SELECT lives_ok($$SELECT mq_send('recv_err', '"stale"')$$, 'a message to read twice');
SELECT receipt AS r_old FROM mq_read('recv_err', vt => '0') \gset
SELECT receipt AS r_new FROM mq_read('recv_err', vt => '1 hour') \gset
SELECT isnt(:r_old::bigint, :r_new::bigint, 'the second delivery has a new receipt');
SELECT pg_temp.contents('recv_err') AS before \gset
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_err', :r_old), '55000', NULL, 'ack: stale receipt');
SELECT throws_ok(format('SELECT mq_ack(%L, ARRAY[%s]::bigint[])', 'recv_err', :r_old), '55000', NULL, 'ack array: stale receipt');
SELECT throws_ok(format('SELECT mq_ack(%L, ARRAY[%s, %s]::bigint[])', 'recv_err', :r_new, :r_old), '55000', NULL, 'ack array: current and stale receipt');
SELECT throws_ok(format('SELECT mq_nack(%L, %s)', 'recv_err', :r_old), '55000', NULL, 'nack: stale receipt');
SELECT throws_ok(format('SELECT mq_extend(%L, %s, %L)', 'recv_err', :r_old, '0'), '55000', NULL, 'extend: stale receipt');
SELECT is(pg_temp.contents('recv_err'), :'before', 'stale receipts changed nothing: still leased');
SELECT is(mq_ack('recv_err', :r_old, strict => false), false, 'ack non-strict: stale receipt is false');
SELECT is(mq_ack('recv_err', ARRAY[:r_old], strict => false), 0::bigint, 'ack array non-strict: stale receipt counts 0');
SELECT is(mq_nack('recv_err', :r_old, strict => false), false, 'nack non-strict: stale receipt is false');
SELECT is(mq_extend('recv_err', :r_old, '0', strict => false), false, 'extend non-strict: stale receipt is false');
SELECT is(pg_temp.contents('recv_err'), :'before', 'non-strict stale receipts changed nothing');
SELECT is(mq_extend('recv_err', :r_new, '2 hours'), true, 'the current receipt extends');
SELECT is(mq_ack('recv_err', ARRAY[:r_new, :r_old], strict => false), 1::bigint, 'the current receipt acks, the stale one is skipped');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'recv_err'), 0::bigint, 'the message is gone');

-- An expired lease not yet taken by anyone: its receipt still settles.
SELECT lives_ok($$SELECT mq_send('recv_err', '"late"')$$, 'a message whose lease expires');
SELECT receipt AS r FROM mq_read('recv_err', vt => '0') \gset
SELECT is(mq_extend('recv_err', :r, '1 hour'), true, 'extend after the lease expired');
SELECT is(mq_nack('recv_err', :r), true, 'nack after the lease was extended');
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_err', :r), '55000', NULL, 'ack after a nack in the same transaction');

-- Purged messages: their receipts are unknown.
SELECT lives_ok($$SELECT mq_send('recv_err', '"purged"')$$, 'a message to purge');
SELECT receipt AS r FROM mq_read('recv_err', vt => '1 hour') \gset
SELECT is(mq_purge('recv_err'), 2::bigint, 'purge deletes both messages');
SELECT throws_ok(format('SELECT mq_ack(%L, %s)', 'recv_err', :r), '55000', NULL, 'ack: purged message');
SELECT throws_ok(format('SELECT mq_nack(%L, %s)', 'recv_err', :r), '55000', NULL, 'nack: purged message');
SELECT is(mq_ack('recv_err', :r, strict => false), false, 'ack non-strict: purged message is false');

-- Popped messages have no receipt to settle.
SELECT lives_ok($$SELECT mq_send('recv_err', '"popped"')$$, 'a message to pop');
SELECT is((SELECT receipt FROM mq_pop('recv_err')), NULL::bigint, 'pop returns no receipt');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'recv_err'), 0::bigint, 'and deletes the message');

-- Arrays: empty and duplicate receipts.
SELECT is(mq_ack('recv_err', '{}'::bigint[]), 0::bigint, 'ack: an empty array acks nothing');
SELECT is(mq_ack('recv_err', '{}'::bigint[], false), 0::bigint, 'ack non-strict: an empty array acks nothing');
SELECT lives_ok($$SELECT mq_send('recv_err', '"twice"')$$, 'a message to ack twice');
SELECT receipt AS r FROM mq_read('recv_err', vt => '1 hour') \gset
SELECT throws_ok(format('SELECT mq_ack(%L, ARRAY[%s, %s]::bigint[])', 'recv_err', :r, :r), '55000', NULL, 'ack array: the same receipt twice');
SELECT is((SELECT inflight FROM mq_queues WHERE queue = 'recv_err'), 1::bigint, 'the failed call acked nothing');
SELECT is(mq_ack('recv_err', ARRAY[:r, :r], false), 1::bigint, 'ack array non-strict: the same receipt twice counts once');

SELECT * FROM finish();
ROLLBACK;
