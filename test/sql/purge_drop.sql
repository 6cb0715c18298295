--
-- mq_purge and mq_drop_queue with messages in every state, and what becomes
-- of the receipts issued before.
--
SELECT mq_create_queue('purge_q');

-- Purging an empty queue deletes nothing.
SELECT mq_purge('purge_q');

-- Purge deletes ready, leased and delayed messages alike and returns how
-- many it deleted.
SELECT count(*) FROM mq_send_batch('purge_q', ARRAY['1', '2', '3', '4']::jsonb[]);
SELECT mq_send('purge_q', '"delayed"', delay => '1 hour') AS id \gset
SELECT array_agg(receipt) AS rs FROM mq_read('purge_q', 2) \gset
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'purge_q';
SELECT mq_purge('purge_q');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'purge_q';
SELECT count(*) FROM mq_read('purge_q', 10);

-- The receipts of purged messages are unknown: strict ack, nack and extend
-- fail; non-strict ones say false (or 0).
\set VERBOSITY sqlstate
SELECT mq_ack('purge_q', (:'rs'::bigint[])[1]);
SELECT mq_ack('purge_q', :'rs'::bigint[]);
SELECT mq_nack('purge_q', (:'rs'::bigint[])[1]);
SELECT mq_extend('purge_q', (:'rs'::bigint[])[1], '1 minute');
\set VERBOSITY default
SELECT mq_ack('purge_q', (:'rs'::bigint[])[1], strict => false);
SELECT mq_ack('purge_q', :'rs'::bigint[], strict => false);
SELECT mq_nack('purge_q', (:'rs'::bigint[])[2], strict => false);
SELECT mq_extend('purge_q', (:'rs'::bigint[])[2], '1 minute', strict => false);

-- The queue keeps working after a purge, and ids keep growing.
SELECT mq_send('purge_q', '"after purge"') AS id_after \gset
SELECT :id_after > :id AS ids_grow;
SELECT body, deliveries FROM mq_read('purge_q');
SELECT mq_purge('purge_q');

-- A rolled-back purge deletes nothing, and the leases it would have ended
-- are still valid.
SELECT count(*) FROM mq_send_batch('purge_q', ARRAY['"x"', '"y"']::jsonb[]);
SELECT receipt AS r FROM mq_read('purge_q') \gset
BEGIN;
SELECT mq_purge('purge_q');
SELECT depth FROM mq_queues WHERE queue = 'purge_q';
ROLLBACK;
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'purge_q';
SELECT mq_ack('purge_q', :r);
SELECT body FROM mq_peek('purge_q');
SELECT mq_purge('purge_q');

-- An ack and a purge in one transaction: the purge counts what is left.
SELECT count(*) FROM mq_send_batch('purge_q', ARRAY['"x"', '"y"']::jsonb[]);
SELECT receipt AS r FROM mq_read('purge_q') \gset
BEGIN;
SELECT mq_ack('purge_q', :r);
SELECT mq_purge('purge_q');
COMMIT;
SELECT depth FROM mq_queues WHERE queue = 'purge_q';

-- Drop and re-create with the same name: receipts of the old queue do not
-- ack the new queue's messages.
SELECT count(*) FROM mq_send_batch('purge_q', ARRAY['"old 1"', '"old 2"']::jsonb[]);
SELECT array_agg(receipt ORDER BY id) AS old_rs FROM mq_read('purge_q', 2) \gset
SELECT mq_drop_queue('purge_q');
SELECT mq_create_queue('purge_q');
SELECT depth FROM mq_queues WHERE queue = 'purge_q';
SELECT count(*) FROM mq_send_batch('purge_q', ARRAY['"new 1"', '"new 2"']::jsonb[]);
SELECT array_agg(receipt ORDER BY id) AS new_rs FROM mq_read('purge_q', 2) \gset
\set VERBOSITY sqlstate
SELECT mq_ack('purge_q', (:'old_rs'::bigint[])[1]);
SELECT mq_ack('purge_q', :'old_rs'::bigint[]);
SELECT mq_nack('purge_q', (:'old_rs'::bigint[])[2]);
SELECT mq_extend('purge_q', (:'old_rs'::bigint[])[2], '0');
\set VERBOSITY default
SELECT mq_ack('purge_q', :'old_rs'::bigint[], strict => false);
SELECT depth, inflight FROM mq_queues WHERE queue = 'purge_q';
SELECT mq_ack('purge_q', :'new_rs'::bigint[]);
SELECT depth FROM mq_queues WHERE queue = 'purge_q';

-- Dropping a queue with leased and delayed messages; the name then is
-- unknown to every function.
SELECT mq_send('purge_q', '"leased"') AS id \gset
SELECT mq_send('purge_q', '"delayed"', delay => '1 hour') AS id \gset
SELECT receipt AS r FROM mq_read('purge_q') \gset
SELECT mq_drop_queue('purge_q');
SELECT mq_ack('purge_q', :r, strict => false);
\echo :SQLSTATE
SELECT mq_purge('purge_q');
\echo :SQLSTATE
SELECT count(*) FROM mq_queues WHERE queue = 'purge_q';
