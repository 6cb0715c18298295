-- The worked example behind `make demo`.  Safe to run again.
\pset footer off
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS queue;
SELECT mq_drop_topic('demo_events', if_exists => true) \g /dev/null
SELECT mq_drop_stream('demo_ledger', if_exists => true) \g /dev/null
SELECT mq_drop_queue(q, if_exists => true) FROM unnest(ARRAY['demo_orders', 'demo_payments', 'demo_fraud', 'demo_analytics']) q \g /dev/null

\echo
\echo '== 1. A queue, and a producer that sends three orders (one urgent)'
\echo
\echo 'SELECT mq_create_queue(''demo_orders'', visibility_timeout => ''2 seconds'');'
SELECT mq_create_queue('demo_orders', visibility_timeout => '2 seconds') \g /dev/null
SELECT mq_send('demo_orders', '{"order": 1001, "item": "book"}') AS sent_id;
SELECT mq_send('demo_orders', '{"order": 1002, "item": "lamp"}', headers => '{"source": "web"}') AS sent_id;
SELECT mq_send('demo_orders', '{"order": 1003, "item": "pump"}', priority => 9) AS sent_id;

\echo
\echo '== 2. What the queue holds (mq_queues)'
SELECT queue, depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'demo_orders';

\echo
\echo '== 3. A consumer reads two: the urgent one first, then the oldest'
CREATE TEMP TABLE got AS SELECT * FROM mq_read('demo_orders', qty => 2);
SELECT id, receipt, body, deliveries, priority FROM got ORDER BY priority DESC, id;
SELECT id AS first_id, receipt AS first_receipt, body AS first_body FROM got ORDER BY priority DESC, id LIMIT 1 \gset
SELECT id AS second_id, receipt AS second_receipt FROM got ORDER BY priority DESC, id OFFSET 1 \gset
\echo 'mq_peek shows only the one ready message; the other two are leased:'
SELECT id, body->>'order' AS "order", deliveries, priority FROM mq_peek('demo_orders');

\echo
\echo '== 4. The consumer processes message' :first_id 'and acks it in the same transaction'
BEGIN;
CREATE TEMP TABLE shipped (order_no int);
INSERT INTO shipped SELECT (:'first_body'::jsonb->>'order')::int;
SELECT mq_ack('demo_orders', :first_receipt) AS acked;
COMMIT;

\echo
\echo '== 5. The consumer of message' :second_id 'crashes without acking.'
\echo '   Its 2-second lease ends and the message is delivered again (deliveries = 2):'
SELECT pg_sleep(2.2) \g /dev/null
SELECT id, body->>'order' AS "order", deliveries, priority FROM mq_read('demo_orders', 10) ORDER BY id;

\echo
\echo '== 6. The crashed consumer comes back: its old receipt no longer acks anything'
SELECT mq_ack('demo_orders', :second_receipt, strict => false) AS late_ack;
\echo '(with strict => true, the default, this raises SQLSTATE 55000 and rolls back the work)'

\echo
\echo '== 7. The queue now: two messages leased by the second reader'
SELECT queue, depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'demo_orders';

\echo
\echo '== 8. Pub/sub: one publish, a copy for every matching subscriber'
SELECT mq_create_topic('demo_events') \g /dev/null
SELECT mq_create_queue(q) FROM unnest(ARRAY['demo_payments', 'demo_fraud', 'demo_analytics']) q \g /dev/null
SELECT mq_subscribe('demo_events', 'demo_payments', 'order.created') \g /dev/null
SELECT mq_subscribe('demo_events', 'demo_fraud', 'order.*') \g /dev/null
SELECT mq_subscribe('demo_events', 'demo_analytics', '#') \g /dev/null
SELECT topic, queue, pattern FROM mq_topics WHERE topic = 'demo_events' ORDER BY queue;
SELECT mq_publish('demo_events', 'order.created', '{"order": 1004}') AS "order.created reached";
SELECT mq_publish('demo_events', 'order.refunded', '{"order": 1001}') AS "order.refunded reached";
SELECT mq_publish('demo_events', 'user.signed_up', '{"user": 7}') AS "user.signed_up reached";
SELECT queue, depth FROM mq_queues WHERE queue IN ('demo_payments', 'demo_fraud', 'demo_analytics') ORDER BY queue;

\echo
\echo '== 9. A stream: an ordered, replayable log; one key, one partition, in order'
SELECT mq_create_stream('demo_ledger', partitions => 3) \g /dev/null
SELECT a.partition, a."position", e.key, e.body
  FROM (VALUES (1, 'acct-1', '{"credit": 100}'::jsonb), (2, 'acct-4', '{"credit": 50}'),
               (3, 'acct-1', '{"debit": 30}'), (4, 'acct-1', '{"debit": 20}')) AS e(n, key, body),
       LATERAL mq_append('demo_ledger', e.body, key => e.key) a
 ORDER BY e.n;
SELECT partition AS acct1 FROM mq_append('demo_ledger', '{"credit": 5}', key => 'acct-1') \gset
\echo 'Replaying the partition of acct-1 from the start, and again from position 2:'
SELECT "position", key, body FROM mq_stream_read('demo_ledger', :acct1, 0);
SELECT "position", key, body FROM mq_stream_read('demo_ledger', :acct1, 2);
SELECT stream, partition, first_position, next_position, records FROM mq_streams WHERE stream = 'demo_ledger';
\echo 'A consumer group reads each partition in order and moves on as its transaction commits;'
\echo 'after a bug fix it goes back in time (mq_seek) and reads everything again:'
SELECT mq_create_group('demo_ledger', 'balances') \g /dev/null
BEGIN;
-- Three calls in one transaction: each claims another partition.
SELECT c.partition, c."position", c.key, c.body
  FROM generate_series(1, 3) AS call, LATERAL mq_consume('demo_ledger', 'balances', 10 + 0 * call) AS c;
COMMIT;
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE stream = 'demo_ledger';
SELECT mq_seek('demo_ledger', 'balances', '-infinity'::timestamptz) \g /dev/null
SELECT c.partition, c."position", c.key, c.body
  FROM generate_series(1, 3) AS call, LATERAL mq_consume('demo_ledger', 'balances', 10 + 0 * call) AS c;

\echo
\echo '== 10. Privileges: the shop may send orders, the billing service may read them'
DROP ROLE IF EXISTS demo_shop;
DROP ROLE IF EXISTS demo_billing;
CREATE ROLE demo_shop;
CREATE ROLE demo_billing;
SELECT mq_create_queue('demo_invoices') \g /dev/null
SELECT mq_grant('demo_invoices', 'demo_shop', '{send}') \g /dev/null
SELECT mq_grant('demo_invoices', 'demo_billing', '{read}') \g /dev/null
SELECT object, owner, grantee, privileges FROM mq_grants WHERE object = 'demo_invoices' ORDER BY grantee;
SET ROLE demo_shop;
SELECT mq_send('demo_invoices', '{"invoice": 77}') AS "the shop sent";
\echo 'The shop may not read what it sent (42501), and sees only what it holds a grant on:'
\set ON_ERROR_STOP 0
SELECT * FROM mq_read('demo_invoices');
\set ON_ERROR_STOP 1
SELECT queue, depth FROM mq_queues;
RESET ROLE;
SET ROLE demo_billing;
SELECT body, mq_ack('demo_invoices', receipt) AS acked FROM mq_read('demo_invoices');
RESET ROLE;

\echo
\echo '== 11. Schedules: a heartbeat every 2 seconds, fired by the background worker'
\echo 'SELECT mq_create_schedule(''demo_heartbeat'', ''2 seconds'', ''demo_beats'', ''{"service": "billing"}'');'
SELECT mq_create_queue('demo_beats') \g /dev/null
SELECT mq_create_schedule('demo_heartbeat', '2 seconds', 'demo_beats', '{"service": "billing"}') \g /dev/null
\echo 'A consumer waits for beats; each carries its schedule and scheduled time:'
SELECT body, headers->'mq_schedule' AS mq_schedule, mq_ack('demo_beats', receipt) AS acked
  FROM mq_read('demo_beats', wait => '5 seconds');
SELECT body, headers->'mq_schedule' AS mq_schedule, mq_ack('demo_beats', receipt) AS acked
  FROM mq_read('demo_beats', wait => '5 seconds');
SELECT schedule, cron, target, runs > 0 AS has_run, last_error FROM mq_schedules;
\echo 'The nightly report would run at these times in Berlin, across the change to summer time:'
SELECT t AT TIME ZONE 'Europe/Berlin' AS berlin
  FROM mq_cron_next('30 2 * * *', 'Europe/Berlin', after => '2026-03-28 12:00+01', count => 3) t;
SELECT mq_alter_schedule('demo_heartbeat', paused => true) \g /dev/null
