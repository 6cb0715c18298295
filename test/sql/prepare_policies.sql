--
-- PREPARE TRANSACTION and the queue policies: refused (0A000) after
-- dead-lettering, including a drop_oldest send, and after any send to a
-- queue with max_length; sends to other queues, with or without
-- idempotency keys, can be prepared.
--
-- Should a PREPARE wrongly succeed, the line after it rolls the prepared
-- transaction back, so that its locks cannot block the rest of the file.
-- Should it wrongly fail, the line after it finds nothing to commit.
--
SET lock_timeout = '10s';
SELECT mq_create_queue('prep_p_dlq');
SELECT mq_create_queue('prep_p_opts', max_deliveries => 1, dead_letter_queue => 'prep_p_dlq',
                       message_ttl => '1 hour', max_inflight => 5, dedup_window => '1 hour');
SELECT mq_create_queue('prep_p_len', max_length => 10);
SELECT mq_create_queue('prep_p_drop', max_length => 1, overflow => 'drop_oldest', dead_letter_queue => 'prep_p_dlq');

-- A send to a queue with the other options can be prepared.
BEGIN;
SELECT mq_send('prep_p_opts', '"prepared"') AS id \gset
SELECT count(*) FROM mq_send_batch('prep_p_opts', ARRAY['1', '2']::jsonb[]);
PREPARE TRANSACTION 'mq_prep_p_opts';
SELECT format('COMMIT PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_opts' \gexec
SELECT depth FROM mq_queues WHERE queue = 'prep_p_opts';
SELECT mq_purge('prep_p_opts');

-- So can a keyed send: the key commits with the prepared transaction ...
BEGIN;
SELECT mq_send('prep_p_opts', '"keyed"', idempotency_key => 'prep-1') AS keyed_id \gset
PREPARE TRANSACTION 'mq_prep_p_key';
SELECT format('COMMIT PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_key' \gexec
SELECT mq_send('prep_p_opts', '"keyed again"', idempotency_key => 'prep-1') = :keyed_id AS same_id;
-- ... or goes with its rollback.
BEGIN;
SELECT mq_send('prep_p_opts', '"keyed, rolled back"', idempotency_key => 'prep-2') AS rb_id \gset
PREPARE TRANSACTION 'mq_prep_p_key_rb';
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_key_rb' \gexec
SELECT mq_send('prep_p_opts', '"keyed, sent"', idempotency_key => 'prep-2') <> :rb_id AS new_id;
SELECT body FROM mq_peek('prep_p_opts');
SELECT mq_purge('prep_p_opts');

-- A send to a queue with max_length cannot be prepared, nor a batch; the
-- transaction rolls back.
BEGIN;
SELECT mq_send('prep_p_len', '"limited"') AS id \gset
PREPARE TRANSACTION 'mq_prep_p_len';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_len' \gexec
BEGIN;
SELECT count(*) FROM mq_send_batch('prep_p_len', ARRAY['1', '2']::jsonb[]);
PREPARE TRANSACTION 'mq_prep_p_len_batch';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_len_batch' \gexec
SELECT depth FROM mq_queues WHERE queue = 'prep_p_len';
-- Also together with a send elsewhere.
BEGIN;
SELECT mq_send('prep_p_opts', '"elsewhere"') AS id \gset
SELECT count(*) FROM mq_send_batch('prep_p_len', ARRAY['1']::jsonb[]);
PREPARE TRANSACTION 'mq_prep_p_len_two';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_len_two' \gexec
SELECT queue, depth FROM mq_queues WHERE queue IN ('prep_p_len', 'prep_p_opts') ORDER BY queue;

-- Once max_length is reset, the queue's sends are plain sends again.
SELECT mq_alter_queue('prep_p_len', reset => '{max_length}');
BEGIN;
SELECT mq_send('prep_p_len', '"no limit now"') AS id \gset
PREPARE TRANSACTION 'mq_prep_p_len_reset';
SELECT format('COMMIT PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_len_reset' \gexec
SELECT body FROM mq_peek('prep_p_len');

-- A drop_oldest send that dead-letters cannot be prepared; rolled back, the
-- dropped message is back.
SELECT mq_send('prep_p_drop', '"oldest"') AS id \gset
BEGIN;
SELECT mq_send('prep_p_drop', '"newest"') AS id \gset
PREPARE TRANSACTION 'mq_prep_p_drop';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_drop' \gexec
SELECT body FROM mq_peek('prep_p_drop');
SELECT depth FROM mq_queues WHERE queue = 'prep_p_dlq';

-- Dead-lettering by a nack of the last delivery cannot be prepared.
SELECT mq_send('prep_p_opts', '"nacked"') AS id \gset
SELECT receipt AS r FROM mq_read('prep_p_opts', vt => '1 hour') \gset
BEGIN;
SELECT mq_nack('prep_p_opts', :r);
PREPARE TRANSACTION 'mq_prep_p_dead_nack';
\echo :SQLSTATE
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_dead_nack' \gexec
SELECT queue, depth, inflight FROM mq_queues WHERE queue IN ('prep_p_opts', 'prep_p_dlq') ORDER BY queue;
SELECT mq_nack('prep_p_opts', :r);
SELECT queue, depth FROM mq_queues WHERE queue IN ('prep_p_opts', 'prep_p_dlq') ORDER BY queue;

-- mq_queues keeps a depth counter for every queue, yet a send to a queue
-- whose depth was shown can be prepared: while the prepared transaction is
-- open its messages are not in the depth, and once committed they are --
-- also when the counter is kept again in between.
SELECT mq_create_queue('prep_p_shown');
SELECT mq_send('prep_p_shown', '"before"') AS id \gset
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';
BEGIN;
SELECT count(*) FROM mq_send_batch('prep_p_shown', ARRAY['1', '2', '3']::jsonb[]);
PREPARE TRANSACTION 'mq_prep_p_shown';
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';
SELECT mq_send('prep_p_shown', '"beside"') AS id \gset
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';
SELECT format('COMMIT PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_shown' \gexec
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';
SELECT count(*) FROM mq_read('prep_p_shown', qty => 10) AS r, mq_ack('prep_p_shown', r.receipt);
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';
-- A prepared send rolled back leaves the depth as it was.
BEGIN;
SELECT mq_send('prep_p_shown', '"rolled back"') AS id \gset
PREPARE TRANSACTION 'mq_prep_p_shown_rb';
SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE gid = 'mq_prep_p_shown_rb' \gexec
SELECT mq_send('prep_p_shown', '"after"') AS id \gset
SELECT depth, ready FROM mq_queues WHERE queue = 'prep_p_shown';

SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'mq_prep_p%';
SELECT mq_drop_queue(q) FROM unnest(ARRAY['prep_p_opts', 'prep_p_len', 'prep_p_drop', 'prep_p_dlq', 'prep_p_shown']) AS q;
