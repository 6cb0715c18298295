--
-- Every call acts on the latest committed state, at every isolation level;
-- the effects of other connections are shown through a second connection
-- (dblink).  A backend that dies while it holds leases gives them back.
--
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s',
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database()) AS connstr \gset
SELECT dblink_connect('other', :'connstr');

SELECT mq_create_queue('iso_q');

-- REPEATABLE READ: a message committed by another connection after the
-- transaction took its snapshot is read by the transaction's next mq_read,
-- while an ordinary table still shows the snapshot.
CREATE TABLE iso_log (n int);
SELECT mq_send('iso_q', '"before"') AS id \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) AS logged FROM iso_log;
SELECT body FROM mq_peek('iso_q');
SELECT * FROM dblink('other', $$INSERT INTO iso_log VALUES (1); SELECT mq_send('iso_q', '"after"') IS NOT NULL$$) AS t(sent boolean);
SELECT count(*) AS logged FROM iso_log;
SELECT body, deliveries FROM mq_read('iso_q', 10);
SELECT depth, inflight FROM mq_queues WHERE queue = 'iso_q';
COMMIT;
SELECT count(*) AS logged FROM iso_log;
SELECT mq_purge('iso_q');

-- ... and a message popped (deleted) by another connection after the
-- snapshot is not seen any more.
SELECT count(*) FROM mq_send_batch('iso_q', ARRAY['"popped elsewhere"', '"kept"']::jsonb[]);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT body FROM mq_peek('iso_q');
SELECT * FROM dblink('other', $$SELECT body FROM mq_pop('iso_q')$$) AS t(body jsonb);
SELECT body FROM mq_peek('iso_q');
SELECT body FROM mq_read('iso_q', 10);
COMMIT;
SELECT mq_purge('iso_q');

-- SERIALIZABLE: the same, and the transaction commits without a
-- serialization failure.
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM mq_read('iso_q', 10);
SELECT * FROM dblink('other', $$SELECT mq_send('iso_q', '"serializable"') IS NOT NULL$$) AS t(sent boolean);
SELECT body, deliveries, receipt AS r FROM mq_read('iso_q', 10) \gset
\echo :body :deliveries
SELECT mq_ack('iso_q', :r);
SELECT mq_send('iso_q', '"sent in serializable"') AS id \gset
COMMIT;
SELECT body FROM mq_peek('iso_q');
SELECT mq_purge('iso_q');

-- Another connection's uncommitted read holds its leases; its rollback
-- makes the messages ready at once, deliveries counted.
SELECT count(*) FROM mq_send_batch('iso_q', ARRAY['"x"', '"y"']::jsonb[]);
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT body FROM mq_read('iso_q', 1, vt => '1 hour')$$) AS t(body jsonb);
SELECT body FROM mq_read('iso_q', 10, vt => '0');
SELECT dblink_exec('other', 'ROLLBACK');
SELECT body, deliveries FROM mq_peek('iso_q');

-- Another connection's uncommitted ack: the message is neither readable
-- nor gone until that transaction ends.
SELECT * FROM dblink('other', $$SELECT receipt FROM mq_read('iso_q', 1, vt => '0')$$) AS t(r bigint) \gset
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', format('SELECT mq_ack(%L, %s)', 'iso_q', :r)) AS t(acked boolean);
SELECT body FROM mq_read('iso_q', 10, vt => '0');
SELECT depth FROM mq_queues WHERE queue = 'iso_q';
SELECT dblink_exec('other', 'COMMIT');
SELECT body FROM mq_peek('iso_q');
SELECT depth FROM mq_queues WHERE queue = 'iso_q';

-- A backend that is terminated while its transaction holds leases gives
-- them back at once; the deliveries stay counted.
SELECT * FROM dblink('other', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', $$SELECT body FROM mq_read('iso_q', 10, vt => '1 hour')$$) AS t(body jsonb);
SELECT ready, inflight FROM mq_queues WHERE queue = 'iso_q';
SELECT pg_terminate_backend(:pid, 60000);
SELECT ready, inflight FROM mq_queues WHERE queue = 'iso_q';
SELECT body, deliveries FROM mq_peek('iso_q');
SELECT dblink_disconnect('other');

SELECT mq_drop_queue('iso_q');
DROP TABLE iso_log;
DROP EXTENSION dblink;
