-- A publication FOR ALL TABLES (logical replication of the whole database)
-- breaks nothing: every storage and catalog table has a primary key, the
-- replica identity that UPDATE and DELETE of published tables need.
SET client_min_messages = error;	-- no warning about wal_level
CREATE PUBLICATION pub_everything FOR ALL TABLES;
RESET client_min_messages;

SELECT mq_create_queue('pub_dlq');
SELECT mq_create_queue('pub_q', max_deliveries => 2, dead_letter_queue => 'pub_dlq',
                       dedup_window => '1 hour');
SELECT mq_send('pub_q', '{"n": 1}', idempotency_key => 'k1') > 0 AS sent;
SELECT count(*) AS sent FROM mq_send_batch('pub_q', ARRAY['{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT mq_nack('pub_q', receipt, delay => '1 hour') FROM mq_read('pub_q', 1);
SELECT mq_extend('pub_q', receipt, '1 minute') FROM mq_read('pub_q', 1);
SELECT count(mq_ack('pub_q', receipt)) AS acked FROM mq_read('pub_q', 10);
SELECT count(*) AS popped FROM mq_pop('pub_q', 10);
SELECT mq_alter_queue('pub_q', visibility_timeout => '10 s');
SELECT mq_purge('pub_q') >= 0 AS purged;

SELECT mq_create_topic('pub_t');
SELECT mq_subscribe('pub_t', 'pub_dlq', 'a.#');
SELECT mq_publish('pub_t', 'a.b', '{"n": 4}') AS delivered_to;
SELECT mq_unsubscribe('pub_t', 'pub_dlq');

SELECT mq_create_stream('pub_s', partitions => 2);
SELECT mq_create_group('pub_s', 'g');
SELECT count(*) AS appended FROM mq_append_batch('pub_s', ARRAY['{}', '{}']::jsonb[], ARRAY['a', 'b']);
SELECT count(*) AS consumed FROM mq_consume('pub_s', 'g', 10);
SELECT mq_seek('pub_s', 'g', 0, 0);
SELECT mq_alter_stream('pub_s', max_age => '1 day');

-- Every table in schema mq has a primary key.
SELECT c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'mq' AND c.relkind = 'r'
   AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary);

SELECT mq_drop_stream('pub_s');
SELECT mq_drop_topic('pub_t');
SELECT mq_drop_queue('pub_q');
SELECT mq_drop_queue('pub_dlq');
DROP PUBLICATION pub_everything;
