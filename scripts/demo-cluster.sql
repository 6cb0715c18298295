-- The worked example behind `make demo-cluster`, run through the proxy:
-- the same functions as on one server, each call sent to the shard of its
-- object (docs/scaling.md).
\pset footer off
SET client_min_messages = warning;

\echo
\echo '== 1. Where names live: the shard each name hashes to'
SELECT name, mq_shard_of(name) AS shard
  FROM unnest(ARRAY['demo_orders', 'demo_shipping', 'demo_emails', 'demo_ledger']) name;

\echo
\echo '== 2. Queues through the proxy: each is created, filled and read on its shard'
SELECT mq_create_queue(q) FROM unnest(ARRAY['demo_orders', 'demo_shipping', 'demo_emails']) q \g /dev/null
SELECT mq_send('demo_orders', jsonb_build_object('order', 1000 + i)) FROM generate_series(1, 3) i \g /dev/null
SELECT shard, queue, depth FROM mq_queues ORDER BY queue;

\echo
\echo '== 3. A topic exists on every shard; a publish reaches the subscribed queues'
\echo '      of every shard, and says how many got a copy'
SELECT mq_create_topic('demo_events') \g /dev/null
SELECT mq_subscribe('demo_events', 'demo_shipping', 'order.paid') \g /dev/null
SELECT mq_subscribe('demo_events', 'demo_emails', 'order.#') \g /dev/null
SELECT shard, topic, queue, pattern FROM mq_topics ORDER BY shard, queue;
SELECT mq_publish('demo_events', 'order.paid', '{"order": 1001}') AS delivered;

\echo
\echo '== 4. A stream lives whole on one shard, with its partitions and groups'
SELECT mq_create_stream('demo_ledger', partitions => 2) \g /dev/null
SELECT count(*) AS appended
  FROM generate_series(1, 4) i, mq_append('demo_ledger', jsonb_build_object('entry', i), key => 'acct-' || (i % 2));
SELECT mq_create_group('demo_ledger', 'billing') \g /dev/null
SELECT partition, "position", key, body FROM mq_consume('demo_ledger', 'billing', 10) ORDER BY partition, "position";
SELECT shard, stream, partition, records FROM mq_streams ORDER BY partition;

\echo
\echo '== 5. Errors keep their SQLSTATE; the shard that raised it is named'
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ON_ERROR_STOP 0
SELECT mq_send('demo_missing', '{}');
\echo 'SQLSTATE' :SQLSTATE
\echo
\echo '== 6. A dead-letter queue must be on its queue''s shard (a call runs on one):'
\echo '      demo_orders_dead is not, demo_orders.dlq is'
SELECT mq_create_queue('demo_orders_dead') \g /dev/null
SELECT mq_alter_queue('demo_orders', dead_letter_queue => 'demo_orders_dead');
\echo 'SQLSTATE' :SQLSTATE
\set ON_ERROR_STOP 1
SELECT mq_create_queue('demo_orders.dlq') \g /dev/null
SELECT mq_alter_queue('demo_orders', dead_letter_queue => 'demo_orders.dlq', max_deliveries => 5) \g /dev/null
SELECT shard, queue, dead_letter_queue, max_deliveries FROM mq_queues WHERE queue = 'demo_orders';
