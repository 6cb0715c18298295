--
-- An ack looks for its message where the read found it, and wherever the
-- row went since.
--
SELECT mq_create_queue('ackrow_q');
SELECT 'mq.q_' || id AS ackrow_table FROM mq.objects WHERE name = 'ackrow_q' \gset

-- The storage rewritten since the read: the read's place lies past the
-- new end of the table.
SELECT count(*) FROM mq_send_batch('ackrow_q', array_fill(jsonb_build_object('pad', repeat('x', 1000)), ARRAY[60]));
SELECT max(id) AS last FROM mq_inspect('ackrow_q') \gset
SELECT receipt AS r FROM mq_read('ackrow_q', 60, '1 hour') WHERE id = :last \gset
SELECT mq_delete('ackrow_q', ARRAY(SELECT id FROM mq_inspect('ackrow_q') WHERE id <> :last));
VACUUM FULL :ackrow_table;
SELECT mq_ack('ackrow_q', :r, strict => true);
SELECT count(*) AS left_over FROM mq_inspect('ackrow_q');

-- The row changed while leased (a new version): the ack finds that one.
SELECT mq_send('ackrow_q', '"moved"') AS id \gset
SELECT receipt AS r FROM mq_read('ackrow_q', 1, '1 hour') \gset
UPDATE :ackrow_table SET headers = '{"k": "v"}' WHERE id = :id;
SELECT mq_ack('ackrow_q', :r, strict => true);
SELECT count(*) AS left_over FROM mq_inspect('ackrow_q');

-- A nack that rolled back left the row where it was.
SELECT mq_send('ackrow_q', '"nack undone"') AS id \gset
SELECT receipt AS r FROM mq_read('ackrow_q', 1, '1 hour') \gset
BEGIN;
SELECT mq_nack('ackrow_q', :r, '1 hour');
ROLLBACK;
SELECT mq_ack('ackrow_q', :r, strict => true);
SELECT count(*) AS left_over FROM mq_inspect('ackrow_q');

-- A nack with a delay that committed moved the row; the next read's ack
-- finds it where that read did.
SELECT mq_send('ackrow_q', '"nacked"') AS id \gset
SELECT receipt AS r FROM mq_read('ackrow_q', 1, '1 hour') \gset
SELECT mq_nack('ackrow_q', :r, '0.01 seconds');
SELECT pg_sleep(0.05);
SELECT receipt AS r, deliveries FROM mq_read('ackrow_q', 1, '1 hour') \gset
SELECT :deliveries AS deliveries, mq_ack('ackrow_q', :r, strict => true);
SELECT count(*) AS left_over FROM mq_inspect('ackrow_q');

SELECT mq_drop_queue('ackrow_q');
