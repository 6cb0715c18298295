--
-- Settling deliveries: mq_ack (one receipt or an array), mq_nack (with and
-- without delay) and mq_extend, in strict and non-strict mode.
--
-- Receipts vary between runs: they are kept in psql variables, and errors
-- about them are shown by SQLSTATE only (55000 = stale or unknown receipt).
--
SELECT mq_create_queue('ack_q');

-- Ack deletes the message of the current delivery.
SELECT mq_send('ack_q', '"one"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
SELECT mq_ack('ack_q', :r);
SELECT depth FROM mq_queues WHERE queue = 'ack_q';
-- A second ack of the same receipt: unknown receipt; strict => false says false.
\set VERBOSITY sqlstate
SELECT mq_ack('ack_q', :r);
SELECT mq_ack('ack_q', :r, strict => true);
\set VERBOSITY default
SELECT mq_ack('ack_q', :r, strict => false);
-- A receipt that was never issued.
\set VERBOSITY sqlstate
SELECT mq_ack('ack_q', 12345);
\set VERBOSITY default
SELECT mq_ack('ack_q', 12345, false);

-- Ack of an array of receipts returns how many were acked.
SELECT count(*) FROM mq_send_batch('ack_q', ARRAY['1', '2', '3', '4']::jsonb[]);
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('ack_q', 4) \gset
SELECT mq_ack('ack_q', (:'rs'::bigint[])[1:2]);
SELECT body FROM mq_read('ack_q', 10);
SELECT depth, inflight FROM mq_queues WHERE queue = 'ack_q';
-- An empty array acks nothing and returns 0.
SELECT mq_ack('ack_q', '{}'::bigint[]);
-- Strict: one unknown receipt fails the whole call, and nothing is acked.
\set VERBOSITY sqlstate
SELECT mq_ack('ack_q', :'rs'::bigint[]);
\set VERBOSITY default
SELECT depth, inflight FROM mq_queues WHERE queue = 'ack_q';
-- Non-strict: the known receipts are acked, the others counted out.
SELECT mq_ack('ack_q', :'rs'::bigint[], strict => false);
SELECT depth FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_ack('ack_q', :'rs'::bigint[], strict => false);

-- The same receipt twice in one array is acked once; strict mode refuses
-- the second.
SELECT mq_send('ack_q', '"twice"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
\set VERBOSITY sqlstate
SELECT mq_ack('ack_q', ARRAY[:r, :r]);
\set VERBOSITY default
SELECT depth FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_ack('ack_q', ARRAY[:r, :r], false);
SELECT depth FROM mq_queues WHERE queue = 'ack_q';

-- An ack after the lease expired, before anyone read the message again,
-- still succeeds.
SELECT mq_send('ack_q', '"late"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q', vt => '0') \gset
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_ack('ack_q', :r);
SELECT depth FROM mq_queues WHERE queue = 'ack_q';

-- Once the message was read again, the old receipt is stale: it cannot ack
-- (strict: error; non-strict: false) and the message stays.
SELECT mq_send('ack_q', '"stale"') AS id \gset
SELECT receipt AS r_old FROM mq_read('ack_q', vt => '0') \gset
SELECT receipt AS r_new, deliveries FROM mq_read('ack_q') \gset
\echo :deliveries
\set VERBOSITY sqlstate
SELECT mq_ack('ack_q', :r_old);
\set VERBOSITY default
SELECT mq_ack('ack_q', :r_old, strict => false);
SELECT mq_ack('ack_q', ARRAY[:r_old], strict => false);
SELECT depth, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_ack('ack_q', :r_new);
SELECT depth FROM mq_queues WHERE queue = 'ack_q';

-- A receipt of one queue does not ack in another.
SELECT mq_create_queue('ack_other');
SELECT mq_send('ack_q', '"mine"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
\set VERBOSITY sqlstate
SELECT mq_ack('ack_other', :r);
\set VERBOSITY default
SELECT mq_ack('ack_other', :r, false);
SELECT mq_ack('ack_q', :r);
SELECT mq_drop_queue('ack_other');

-- mq_nack without delay: the message is ready again at once, with its
-- delivery counted, and the receipt is used up.
SELECT mq_send('ack_q', '"nacked"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
SELECT mq_nack('ack_q', :r);
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT body, deliveries FROM mq_peek('ack_q');
\set VERBOSITY sqlstate
SELECT mq_nack('ack_q', :r);
SELECT mq_ack('ack_q', :r);
\set VERBOSITY default
SELECT mq_nack('ack_q', :r, strict => false);
SELECT receipt AS r, deliveries FROM mq_read('ack_q') \gset
\echo :deliveries
SELECT mq_ack('ack_q', :r);

-- mq_nack with a delay: ready again only after the delay.
SELECT mq_send('ack_q', '"nack later"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
SELECT mq_nack('ack_q', :r, delay => '1 hour');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'ack_q';
SELECT count(*) FROM mq_read('ack_q');
SELECT mq_purge('ack_q');
SELECT mq_send('ack_q', '"nack soon"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q') \gset
SELECT mq_nack('ack_q', :r, '1 second');
SELECT count(*) AS ready_before FROM mq_read('ack_q');
SELECT pg_sleep(1.1);
SELECT body, deliveries FROM mq_read('ack_q');
SELECT mq_purge('ack_q');

-- A nack after the lease expired, before anyone read the message again,
-- still succeeds; a stale receipt cannot nack.
SELECT mq_send('ack_q', '"late nack"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q', vt => '0') \gset
SELECT mq_nack('ack_q', :r, delay => '1 hour');
SELECT ready, delayed FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_purge('ack_q');
SELECT mq_send('ack_q', '"stale nack"') AS id \gset
SELECT receipt AS r_old FROM mq_read('ack_q', vt => '0') \gset
SELECT receipt AS r_new FROM mq_read('ack_q') \gset
\set VERBOSITY sqlstate
SELECT mq_nack('ack_q', :r_old);
\set VERBOSITY default
SELECT mq_nack('ack_q', :r_old, '0', false);
SELECT inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_nack('ack_q', :r_new);
SELECT ready FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_purge('ack_q');

-- mq_extend moves the end of the lease to now + vt.
SELECT mq_send('ack_q', '"extended"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q', vt => '0') \gset
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_extend('ack_q', :r, '1 hour');
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT count(*) AS readable FROM mq_read('ack_q');
-- Shortening works too: vt 0 ends the lease now.
SELECT mq_extend('ack_q', :r, vt => '0');
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
-- The receipt still acks while nobody read the message again.
SELECT mq_extend('ack_q', :r, '1 hour', strict => true);
SELECT mq_ack('ack_q', :r);
-- Extending an acked (unknown) receipt.
\set VERBOSITY sqlstate
SELECT mq_extend('ack_q', :r, '1 hour');
\set VERBOSITY default
SELECT mq_extend('ack_q', :r, '1 hour', strict => false);
-- Extending a stale receipt, which must not touch the new lease.
SELECT mq_send('ack_q', '"stale extend"') AS id \gset
SELECT receipt AS r_old FROM mq_read('ack_q', vt => '0') \gset
SELECT receipt AS r_new FROM mq_read('ack_q', vt => '1 hour') \gset
\set VERBOSITY sqlstate
SELECT mq_extend('ack_q', :r_old, '0');
\set VERBOSITY default
SELECT mq_extend('ack_q', :r_old, '0', false);
SELECT ready, inflight FROM mq_queues WHERE queue = 'ack_q';
SELECT mq_ack('ack_q', :r_new);
-- A lease extended for a moment ends on time.
SELECT mq_send('ack_q', '"short extend"') AS id \gset
SELECT receipt AS r FROM mq_read('ack_q', vt => '1 hour') \gset
SELECT mq_extend('ack_q', :r, '1 second');
SELECT count(*) AS readable_before FROM mq_read('ack_q');
SELECT pg_sleep(1.1);
SELECT body, deliveries FROM mq_read('ack_q');

SELECT mq_drop_queue('ack_q');
