-- DROP EXTENSION queue refuses while queues or streams hold data (2BP01),
-- says what would be lost, and with CASCADE drops them with it.  Runs last:
-- it drops the extension and creates it again.
DROP EXTENSION queue CASCADE;
CREATE EXTENSION queue;
SELECT mq_create_queue('dx_q');
SELECT mq_create_queue('dx_empty');
SELECT mq_create_topic('dx_t');
SELECT count(*) AS sent FROM mq_send_batch('dx_q', ARRAY['{"a": 1}', '{"a": 2}']::jsonb[]);
\set VERBOSITY sqlstate
DROP EXTENSION queue;
\set VERBOSITY default
DROP EXTENSION queue;
SELECT mq_create_stream('dx_s', partitions => 2);
SELECT count(*) AS appended FROM mq_append_batch('dx_s', ARRAY['{}', '{}', '{}']::jsonb[]);
DROP EXTENSION queue;
-- Still all there.
SELECT queue, depth FROM mq_queues ORDER BY queue;
SELECT sum(records) AS records FROM mq_streams WHERE stream = 'dx_s';
-- Empty queues and streams hold nothing to lose: this check lets the drop
-- through, and PostgreSQL's own refuses it (2BP01 too), naming the tables.
SELECT mq_purge('dx_q');
SELECT mq_drop_stream('dx_s');
BEGIN;
DROP EXTENSION queue;
ROLLBACK;
-- IF EXISTS is checked the same way.
SELECT mq_send('dx_q', '{}') > 0 AS sent;
DROP EXTENSION IF EXISTS queue;
-- CASCADE drops it all.
DROP EXTENSION queue CASCADE;
SELECT count(*) FROM pg_extension WHERE extname = 'queue';
CREATE EXTENSION queue;
SELECT count(*) AS queues FROM mq_queues;
