-- A batch cut short by statement_timeout (or any error, such as a full
-- disk) while its rows are being stored leaves nothing: the batch is all or
-- nothing, for queues and for streams, and the object goes on working.
SELECT mq_create_queue('st_q');
SELECT mq_create_stream('st_s');
CREATE TEMP TABLE st_batch AS
  SELECT ARRAY(SELECT jsonb_build_object('n', g, 'pad', repeat('x', 40))
                 FROM generate_series(1, 400000) g) AS bodies;
SET statement_timeout = '200ms';
\set VERBOSITY sqlstate
SELECT count(*) FROM mq_send_batch('st_q', (SELECT bodies FROM st_batch));
SELECT count(*) FROM mq_append_batch('st_s', (SELECT bodies FROM st_batch));
\set VERBOSITY default
RESET statement_timeout;
SELECT depth FROM mq_queues WHERE queue = 'st_q';
SELECT sum(records) AS records FROM mq_streams WHERE stream = 'st_s';
-- Both go on: the next send is read, the next append is the only record
-- (after a hole of the positions the cut batch had taken, if it got that far).
SELECT mq_send('st_q', '{"after": true}') > 0 AS sent;
SELECT body, mq_ack('st_q', receipt) AS acked FROM mq_read('st_q', 10);
SELECT r.partition, r.body
  FROM mq_append('st_s', '{"after": true}') AS a(p, pos)
 CROSS JOIN LATERAL mq_stream_read('st_s', a.p, 0, 10) AS r;
SELECT mq_drop_queue('st_q');
SELECT mq_drop_stream('st_s');
