--
-- The pgmq layer: pgmq's functions over queue's engine (docs/pgmq.md).
--
CREATE EXTENSION IF NOT EXISTS pgmq CASCADE;
CREATE EXTENSION IF NOT EXISTS pgmq CASCADE;

-- Creating is idempotent; names differing in case are one queue, listed
-- under the name given first, and queue's mq_* see it under pgmq's table
-- name.
SELECT pgmq.create('Orders');
SELECT pgmq.create('orders');
SELECT queue_name, is_partitioned, is_unlogged FROM pgmq.list_queues();
SELECT queue FROM mq_queues;

-- Ids per queue from 1, in order; every overload of send.
SELECT * FROM pgmq.send('orders', '{"a": 1}');
SELECT * FROM pgmq.send('orders', '{"a": 2}', '{"h": 1}'::jsonb);
SELECT * FROM pgmq.send('orders', '{"a": 3}', 3600);
SELECT * FROM pgmq.send('orders', '{"a": 4}', now() - interval '1 hour');
SELECT * FROM pgmq.send('orders', '{"a": 5}', '{"h": 2}'::jsonb, -5);
SELECT * FROM pgmq.send('orders', '{"a": 6}', NULL::jsonb, now() + interval '1 hour');
-- An untyped third argument is as ambiguous as in pgmq.
SELECT * FROM pgmq.send('orders', '{"a": 0}', '{"h": 1}');
SELECT pgmq.send_batch('orders', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[]);
SELECT pgmq.send_batch('orders', ARRAY['{"b": 3}', '{"b": 4}']::jsonb[], ARRAY['{"h": 3}']::jsonb[]);
SELECT pgmq.send_batch('orders', ARRAY['{"b": 5}']::jsonb[], 3600);
SELECT msg_id, read_ct, message, headers, vt > now() AS later FROM pgmq.q_orders;

-- read leases: read_ct counts, vt is when the message is visible again.
SELECT msg_id, read_ct, message, headers, vt > now() + interval '25 seconds' AS leased
  FROM pgmq.read('orders', 30, 2);
SELECT msg_id, message FROM pgmq.read('orders', 30, 10, '{"b": 2}');
SELECT msg_id FROM pgmq.read('orders', 30, 0);
-- vt 0: visible again at once.
SELECT msg_id, read_ct FROM pgmq.read('orders', 0, 1);
SELECT msg_id, read_ct FROM pgmq.read('orders', 0, 1);

-- set_vt by id in any state.
SELECT msg_id, vt > now() + interval '50 seconds' AS in_a_minute FROM pgmq.set_vt('orders', 1, 60);
SELECT msg_id, vt <= clock_timestamp() AS now_visible FROM pgmq.set_vt('orders', 3, -10);
SELECT * FROM pgmq.set_vt('orders', 999, 0);

-- delete and archive by id in any state; unknown ids are not there.
SELECT pgmq.delete('orders', 2);
SELECT pgmq.delete('orders', 999);
SELECT * FROM pgmq.delete('orders', ARRAY[7, 998]);
SELECT pgmq.archive('orders', 1);
SELECT * FROM pgmq.archive('orders', ARRAY[4, 5, 997]);
SELECT msg_id, read_ct, message, headers, archived_at <= now() AS archived FROM pgmq.a_orders;
SELECT msg_id FROM pgmq.q_orders;

-- pop takes the first visible message.
SELECT msg_id, message FROM pgmq.pop('orders');

-- Figures.
SELECT queue_name, queue_length, queue_visible_length, total_messages,
       newest_msg_age_sec >= 0 AS newest, oldest_msg_age_sec >= newest_msg_age_sec AS oldest
  FROM pgmq.metrics('orders');
SELECT count(*) FROM pgmq.metrics_all();

-- read_with_poll waits, at most max_poll_seconds, for a visible message.
SELECT clock_timestamp() AS t0 \gset
SELECT msg_id FROM pgmq.read_with_poll('orders', 30, 1, 1, 100, '{"none": true}');
SELECT clock_timestamp() - :'t0' >= interval '1 second' AS waited;

-- NULL messages: sent, read and archived as NULL; a condition never
-- matches them ('{}' is no condition).
SELECT * FROM pgmq.send('orders', NULL);
SELECT pgmq.send_batch('orders', ARRAY[NULL, '{"c": 1}']::jsonb[]);
SELECT msg_id, message IS NULL AS null_message FROM pgmq.q_orders WHERE msg_id > 11;
SELECT msg_id FROM pgmq.read('orders', 30, 10, '{"c": 1}') WHERE msg_id > 11;
SELECT msg_id, message IS NULL AS null_message FROM pgmq.read('orders', 30, 10, '{}') WHERE msg_id > 11;
SELECT pgmq.archive('orders', 13);
SELECT msg_id, message IS NULL AS null_message FROM pgmq.a_orders WHERE msg_id > 11;

SELECT pgmq.purge_queue('orders');
SELECT pgmq.drop_queue('Orders');
SELECT pgmq.drop_queue('orders');
SELECT queue FROM mq_queues;

-- Unlogged and "partitioned" queues.
SELECT pgmq.create_unlogged('u1');
SELECT pgmq.create_partitioned('p1', '10000', '100000');
SELECT queue_name, is_partitioned, is_unlogged FROM pgmq.list_queues() ORDER BY 1;
SELECT queue, unlogged FROM mq_queues ORDER BY 1;
SELECT pgmq.drop_queue('u1', true);
SELECT pgmq.drop_queue('p1');

-- Names.
SELECT pgmq.format_table_name('Cat-Dog', 'q');
SELECT pgmq.format_table_name('dollar$fail', 'q');
SELECT pgmq.create(repeat('a', 48));
SELECT pgmq.create(repeat('a', 47));
SELECT pgmq.drop_queue(repeat('a', 47));

-- Dropping the extension drops the archives not detached, and keeps the
-- queues, which are queue's; creating them again adopts them.
SELECT pgmq.create('kept');
SELECT pgmq.detach_archive('kept');
SELECT pgmq.create('lost');
SELECT * FROM pgmq.send('lost', '{"still": "here"}');
SET client_min_messages = warning;
DROP EXTENSION pgmq CASCADE;
RESET client_min_messages;
SELECT tablename FROM pg_tables WHERE schemaname = 'pgmq' ORDER BY 1;
SELECT queue, depth FROM mq_queues ORDER BY 1;
CREATE EXTENSION pgmq;
SELECT pgmq.create('lost');
SELECT msg_id, message FROM pgmq.read('lost', 30, 1);
SELECT pgmq.drop_queue('lost');
SELECT pgmq.drop_queue('kept');
SELECT queue FROM mq_queues;
DROP EXTENSION pgmq;
