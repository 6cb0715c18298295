--
-- Reads, acks and nacks inside transactions and savepoints.
--
-- A read whose transaction rolls back makes its messages ready again at
-- once, their deliveries still counted; ack and nack take effect only when
-- their transaction commits; mq_extend takes effect at once.
--
SELECT mq_create_queue('tx_q');

-- A rolled-back read: the messages are ready again at once, each delivery
-- counted.
SELECT count(*) FROM mq_send_batch('tx_q', ARRAY['"a"', '"b"']::jsonb[]);
BEGIN;
SELECT body, deliveries FROM mq_read('tx_q', 2, vt => '1 hour');
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
ROLLBACK;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT body, deliveries FROM mq_peek('tx_q');

-- The same after an error ends the transaction.
BEGIN;
SELECT body, deliveries FROM mq_read('tx_q', 2, vt => '1 hour');
SELECT 1 / 0;
ROLLBACK;
SELECT body, deliveries FROM mq_peek('tx_q');

-- A failing statement in autocommit mode that read first.
SELECT body, 1 / (deliveries - 3) FROM mq_read('tx_q', 2, vt => '1 hour');
SELECT body, deliveries FROM mq_peek('tx_q');

-- A committed read keeps its leases, and the receipts then ack.
BEGIN;
SELECT array_agg(receipt ORDER BY id) AS rs FROM mq_read('tx_q', 2, vt => '1 hour') \gset
COMMIT;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT mq_ack('tx_q', :'rs'::bigint[]);
SELECT depth FROM mq_queues WHERE queue = 'tx_q';

-- An ack in a rolled-back transaction leaves the message leased, and the
-- receipt still acks afterwards.
SELECT mq_send('tx_q', '"ack rolled back"') AS id \gset
SELECT receipt AS r FROM mq_read('tx_q', vt => '1 hour') \gset
BEGIN;
SELECT mq_ack('tx_q', :r);
SELECT count(*) AS readable_during_ack FROM mq_read('tx_q');
ROLLBACK;
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT count(*) AS readable FROM mq_read('tx_q');
-- The same with the array form.
BEGIN;
SELECT mq_ack('tx_q', ARRAY[:r]);
ROLLBACK;
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'tx_q';

-- A nack in a rolled-back transaction leaves the message leased.
BEGIN;
SELECT mq_nack('tx_q', :r);
ROLLBACK;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
BEGIN;
SELECT mq_nack('tx_q', :r, delay => '1 hour');
ROLLBACK;
SELECT ready, inflight, delayed FROM mq_queues WHERE queue = 'tx_q';

-- A receipt cannot be settled twice in one transaction: the second ack
-- fails (strict) or says false, and the nack after an ack too.
BEGIN;
SELECT mq_ack('tx_q', :r);
SELECT mq_ack('tx_q', :r, strict => false);
SELECT mq_nack('tx_q', :r, strict => false);
SELECT mq_extend('tx_q', :r, '1 hour', strict => false);
\set VERBOSITY sqlstate
SELECT mq_ack('tx_q', :r);
\set VERBOSITY default
ROLLBACK;
SELECT depth, inflight FROM mq_queues WHERE queue = 'tx_q';

-- A committed ack deletes the message.
BEGIN;
SELECT mq_ack('tx_q', :r);
COMMIT;
SELECT depth FROM mq_queues WHERE queue = 'tx_q';

-- A committed nack makes the message ready (after its delay).
SELECT mq_send('tx_q', '"nack committed"') AS id \gset
SELECT receipt AS r FROM mq_read('tx_q', vt => '1 hour') \gset
BEGIN;
SELECT mq_nack('tx_q', :r, delay => '1 hour');
SELECT count(*) AS readable_during_nack FROM mq_read('tx_q');
COMMIT;
SELECT ready, inflight, delayed FROM mq_queues WHERE queue = 'tx_q';
SELECT mq_purge('tx_q');

-- mq_extend is not transactional: a rolled-back extend still moved the
-- lease (here: ended it).
SELECT mq_send('tx_q', '"extend"') AS id \gset
SELECT receipt AS r FROM mq_read('tx_q', vt => '1 hour') \gset
BEGIN;
SELECT mq_extend('tx_q', :r, vt => '0');
ROLLBACK;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT mq_purge('tx_q');

-- Savepoints: rolling back to a savepoint releases the leases of the reads
-- made after it (deliveries stay counted), not those made before.
SELECT count(*) FROM mq_send_batch('tx_q', ARRAY['"first"', '"second"']::jsonb[]);
BEGIN;
SELECT body, deliveries FROM mq_read('tx_q', vt => '1 hour');
SAVEPOINT s1;
SELECT body, deliveries FROM mq_read('tx_q', vt => '1 hour');
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
ROLLBACK TO SAVEPOINT s1;
SELECT body, deliveries FROM mq_peek('tx_q');
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT body, deliveries, receipt AS r2 FROM mq_read('tx_q', vt => '1 hour') \gset
\echo :body :deliveries
COMMIT;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT mq_ack('tx_q', :r2);

-- A released savepoint's reads go with the outer transaction.
SELECT mq_purge('tx_q');
SELECT count(*) FROM mq_send_batch('tx_q', ARRAY['"p"', '"q"']::jsonb[]);
BEGIN;
SAVEPOINT s1;
SELECT body FROM mq_read('tx_q', 10, vt => '1 hour');
RELEASE SAVEPOINT s1;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
ROLLBACK;
SELECT body, deliveries FROM mq_peek('tx_q');

-- An ack rolled back to a savepoint: the message is leased again and the
-- same receipt acks later in the transaction.
SELECT receipt AS r FROM mq_read('tx_q', vt => '1 hour') \gset
BEGIN;
SAVEPOINT s1;
SELECT mq_ack('tx_q', :r);
ROLLBACK TO SAVEPOINT s1;
SELECT ready, inflight FROM mq_queues WHERE queue = 'tx_q';
SELECT mq_ack('tx_q', :r);
COMMIT;
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'tx_q';
-- A strict ack that fails inside a savepoint can be rolled back and the
-- transaction goes on.
SELECT receipt AS r FROM mq_read('tx_q', vt => '1 hour') \gset
BEGIN;
SAVEPOINT s1;
\set VERBOSITY sqlstate
SELECT mq_ack('tx_q', ARRAY[:r, 42]);
\set VERBOSITY default
ROLLBACK TO SAVEPOINT s1;
SELECT mq_ack('tx_q', ARRAY[:r, 42], strict => false);
COMMIT;
SELECT depth FROM mq_queues WHERE queue = 'tx_q';

-- Sends and reads in one transaction: a message sent in the transaction
-- can be read and acked by it; rolling back removes it altogether.
BEGIN;
SELECT mq_send('tx_q', '"own"') AS id \gset
SELECT body, deliveries, receipt AS r FROM mq_read('tx_q') \gset
\echo :body :deliveries
SELECT mq_ack('tx_q', :r);
COMMIT;
SELECT depth FROM mq_queues WHERE queue = 'tx_q';
BEGIN;
SELECT mq_send('tx_q', '"own, rolled back"') AS id \gset
SELECT body, deliveries FROM mq_read('tx_q');
ROLLBACK;
SELECT depth FROM mq_queues WHERE queue = 'tx_q';

SELECT mq_drop_queue('tx_q');
