--
-- Two kinds of transaction the queue functions refuse to work in:
-- PREPARE TRANSACTION after a read, pop, ack, nack, purge or drop (the
-- leases would outlive the session), and read-only transactions for every
-- function that changes something.
--
-- Should a PREPARE wrongly succeed, the line after it rolls the prepared
-- transaction back, so that its locks cannot block the rest of the file.
SET lock_timeout = '10s';
SELECT mq_create_queue('prep_q');

-- A send can be prepared and committed later...
BEGIN;
SELECT mq_send('prep_q', '"prepared send"') AS id \gset
PREPARE TRANSACTION 'mq_prep_send';
SELECT depth FROM mq_queues WHERE queue = 'prep_q';
COMMIT PREPARED 'mq_prep_send';
SELECT body FROM mq_peek('prep_q');
-- ... or rolled back.
BEGIN;
SELECT count(*) FROM mq_send_batch('prep_q', ARRAY['1', '2']::jsonb[]);
PREPARE TRANSACTION 'mq_prep_batch';
ROLLBACK PREPARED 'mq_prep_batch';
SELECT depth FROM mq_queues WHERE queue = 'prep_q';

-- PREPARE after a read fails and rolls the transaction back: the message is
-- ready again at once.
BEGIN;
SELECT body, deliveries FROM mq_read('prep_q', vt => '1 hour');
PREPARE TRANSACTION 'mq_prep_read';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_read' \gexec
SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'mq_prep%';
SELECT ready, inflight FROM mq_queues WHERE queue = 'prep_q';

-- After a pop.
BEGIN;
SELECT body FROM mq_pop('prep_q');
PREPARE TRANSACTION 'mq_prep_pop';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_pop' \gexec
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_q';

-- After an ack or a nack of a delivery read earlier.
SELECT receipt AS r FROM mq_read('prep_q', vt => '1 hour') \gset
BEGIN;
SELECT mq_ack('prep_q', :r);
PREPARE TRANSACTION 'mq_prep_ack';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_ack' \gexec
BEGIN;
SELECT mq_ack('prep_q', ARRAY[:r]);
PREPARE TRANSACTION 'mq_prep_ack_array';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_ack_array' \gexec
BEGIN;
SELECT mq_nack('prep_q', :r);
PREPARE TRANSACTION 'mq_prep_nack';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_nack' \gexec
SELECT depth, inflight FROM mq_queues WHERE queue = 'prep_q';
SELECT mq_nack('prep_q', :r);

-- After a purge or a drop.
BEGIN;
SELECT mq_purge('prep_q');
PREPARE TRANSACTION 'mq_prep_purge';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_purge' \gexec
SELECT depth FROM mq_queues WHERE queue = 'prep_q';
BEGIN;
SELECT mq_drop_queue('prep_q');
PREPARE TRANSACTION 'mq_prep_drop';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_drop' \gexec
SELECT queue, depth FROM mq_queues WHERE queue = 'prep_q';
SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'mq_prep%';

-- Read-only transactions: mq_peek and the mq_queues view work ...
BEGIN READ ONLY;
SELECT body, deliveries FROM mq_peek('prep_q');
SELECT queue, depth, ready FROM mq_queues WHERE queue = 'prep_q';
COMMIT;

-- ... everything that changes something fails with 25006.
SELECT receipt AS r FROM mq_read('prep_q', vt => '1 hour') \gset
SET default_transaction_read_only = on;
SELECT mq_send('prep_q', '"read only"');
\echo :SQLSTATE
SELECT mq_send_batch('prep_q', ARRAY['1']::jsonb[]);
\echo :SQLSTATE
SELECT mq_read('prep_q');
\echo :SQLSTATE
SELECT mq_pop('prep_q');
\echo :SQLSTATE
SELECT mq_ack('prep_q', :r, strict => false);
\echo :SQLSTATE
SELECT mq_ack('prep_q', ARRAY[:r], strict => false);
\echo :SQLSTATE
SELECT mq_nack('prep_q', :r, strict => false);
\echo :SQLSTATE
SELECT mq_purge('prep_q');
\echo :SQLSTATE
\set VERBOSITY sqlstate
SELECT mq_create_queue('prep_read_only');
SELECT mq_alter_queue('prep_q', visibility_timeout => '1 minute');
SELECT mq_drop_queue('prep_q');
\set VERBOSITY default
SELECT body, deliveries FROM mq_peek('prep_q');
RESET default_transaction_read_only;
-- Nothing changed.
SELECT queue, depth, ready, inflight, visibility_timeout FROM mq_queues ORDER BY queue;
SELECT mq_ack('prep_q', :r);

BEGIN READ ONLY;
SELECT mq_read('prep_q');
\echo :SQLSTATE
ROLLBACK;

SELECT mq_drop_queue('prep_q');
