--
-- Reading: mq_read leases ready messages, highest priority first, then in
-- id order, for vt (default: the queue's visibility timeout), and counts
-- each delivery.
--
SELECT mq_create_queue('read_q');

-- Nothing to read: no rows.
SELECT * FROM mq_read('read_q');

-- Priority first (255 highest), then FIFO within a priority.
SELECT count(*) FROM mq_send_batch('read_q', ARRAY['"a0"', '"b0"', '"c0"']::jsonb[]);
SELECT mq_send('read_q', '"d5"', priority => 5) AS id \gset
SELECT mq_send('read_q', '"e255"', priority => 255) AS id \gset
SELECT mq_send('read_q', '"f5"', priority => 5) AS id \gset
SELECT mq_send('read_q', '"g0"') AS id \gset
SELECT mq_send('read_q', '"h1"', priority => 1) AS id \gset

-- qty limits how many are leased; the default is one.
SELECT body, priority, deliveries FROM mq_read('read_q');
SELECT body, priority, deliveries FROM mq_read('read_q', 2);
SELECT body, priority, deliveries FROM mq_read('read_q', qty => 10);
-- Everything is leased now.
SELECT * FROM mq_read('read_q', 10);
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'read_q';
SELECT mq_purge('read_q');

-- The columns of mq_message as mq_read fills them: a fresh receipt, the
-- delivery counted, visible_at = the end of the lease.
SELECT mq_send('read_q', '{"k": "v"}', headers => '{"h": true}', priority => 3) AS msg_id \gset
SELECT clock_timestamp() AS before_read \gset
SELECT id = :msg_id AS same_id, receipt IS NOT NULL AS has_receipt, body, headers,
       deliveries, priority,
       enqueued_at < :'before_read'::timestamptz AS enqueued_before_read,
       visible_at >= :'before_read'::timestamptz + interval '30 seconds'
         AND visible_at <= clock_timestamp() + interval '30 seconds' AS default_vt_30s
  FROM mq_read('read_q');
SELECT mq_purge('read_q');

-- Every delivery has its own receipt.
SELECT count(*) FROM mq_send_batch('read_q', ARRAY['1', '2', '3', '4']::jsonb[]);
SELECT count(*) AS messages, count(DISTINCT receipt) AS receipts FROM mq_read('read_q', 4, vt => '0');
SELECT count(*) AS messages, count(DISTINCT receipt) AS receipts, min(deliveries), max(deliveries)
  FROM mq_read('read_q', 4, vt => '0');
SELECT mq_purge('read_q');

-- vt sets the lease: while it runs the message is not read again; after it
-- ends the message is delivered again with a new receipt.
SELECT mq_send('read_q', '"leased"') AS id \gset
SELECT clock_timestamp() AS before_read \gset
SELECT receipt AS r1,
       visible_at >= :'before_read'::timestamptz + interval '1 second'
         AND visible_at <= clock_timestamp() + interval '1 second' AS vt_one_second
  FROM mq_read('read_q', vt => '1 second') \gset
\echo :vt_one_second
SELECT count(*) AS while_leased FROM mq_read('read_q');
-- A delayed message, and one leased for an hour, are not read either.
SELECT mq_send('read_q', '"delayed"', delay => '1 second') AS id \gset
SELECT mq_send('read_q', '"long lease"') AS id \gset
SELECT body FROM mq_read('read_q', vt => '1 hour');
SELECT count(*) AS before_sleep FROM mq_read('read_q', 10);
SELECT pg_sleep(1.1);
SELECT body, deliveries, receipt <> :r1 AS new_receipt FROM mq_read('read_q', 10) ORDER BY id;
SELECT mq_purge('read_q');

-- vt => 0 leases nothing for long: the message is ready again at once.
SELECT mq_send('read_q', '"zero"') AS id \gset
SELECT body, deliveries FROM mq_read('read_q', vt => '0');
SELECT body, deliveries FROM mq_read('read_q', vt => '0');
SELECT ready, inflight FROM mq_queues WHERE queue = 'read_q';
SELECT mq_purge('read_q');

-- vt NULL means the queue's visibility_timeout, which mq_alter_queue changes
-- for the next reads.
SELECT mq_alter_queue('read_q', visibility_timeout => '2 hours');
SELECT mq_send('read_q', '"two hours"') AS id \gset
SELECT clock_timestamp() AS before_read \gset
SELECT visible_at >= :'before_read'::timestamptz + interval '2 hours'
         AND visible_at <= clock_timestamp() + interval '2 hours' AS vt_2h
  FROM mq_read('read_q', vt => NULL);
SELECT mq_alter_queue('read_q', visibility_timeout => '0');
SELECT mq_send('read_q', '"zero timeout"') AS id \gset
SELECT body FROM mq_read('read_q');
SELECT body, deliveries FROM mq_read('read_q');
SELECT mq_alter_queue('read_q', reset => '{visibility_timeout}');
SELECT mq_purge('read_q');

-- The lease ends on the wall clock, even inside a long transaction.
SELECT mq_send('read_q', '"in transaction"') AS id \gset
BEGIN;
SELECT body, deliveries FROM mq_read('read_q', vt => '1 second');
SELECT count(*) AS still_leased FROM mq_read('read_q');
SELECT pg_sleep(1.1);
SELECT body, deliveries FROM mq_read('read_q');
COMMIT;
SELECT mq_purge('read_q');

-- qty up to 10000 in one call.
SELECT count(*) FROM mq_send_batch('read_q', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 10001) AS i));
SELECT count(*) AS read, min(body::int), max(body::int) FROM mq_read('read_q', 10000);
SELECT body FROM mq_read('read_q', 10000);
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'read_q';

SELECT mq_drop_queue('read_q');
