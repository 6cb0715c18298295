--
-- message_ttl: an expired message is never returned by mq_read, mq_pop or
-- mq_peek; read and pop move it out (reason "ttl") when they meet it ready;
-- a message under a valid lease expires only once its lease ends unacked.
--
-- The background worker moves expired messages as well.  It is switched
-- off here, so that every move this file shows is the work of the call
-- under test.
--
ALTER SYSTEM SET queue.worker_enabled = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.1);
DO $$
BEGIN
    FOR i IN 1..1000 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'queue worker');
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
SHOW queue.worker_enabled;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'queue worker';

SELECT mq_create_queue('ttl_dlq');
SELECT mq_create_queue('ttl_a', message_ttl => '1 second', dead_letter_queue => 'ttl_dlq');
SELECT mq_create_queue('ttl_b', message_ttl => '1 second');
SELECT mq_create_queue('ttl_c', message_ttl => '1 second');
SELECT queue, message_ttl, dead_letter_queue FROM mq_queues WHERE queue LIKE 'ttl\_%' ORDER BY queue;

-- Messages that will expire: ready ones, leased ones (one to ack, one to
-- nack after the TTL), a delayed one that becomes ready before it expires,
-- and one still delayed when it expires.
SELECT mq_send('ttl_a', '"to ack"') AS id \gset
SELECT receipt AS r_ack FROM mq_read('ttl_a', vt => '1 hour') \gset
SELECT mq_send('ttl_a', '"to nack"') AS id \gset
SELECT receipt AS r_nack FROM mq_read('ttl_a', vt => '1 hour') \gset
SELECT mq_send('ttl_a', '"a1"', headers => '{"h": 1}', priority => 2) AS id \gset
SELECT mq_send('ttl_a', '"a2"') AS id \gset
SELECT mq_send('ttl_a', '"delayed a little"', delay => '0.5 seconds') AS id \gset
SELECT mq_send('ttl_a', '"delayed long"', delay => '1 hour') AS id \gset
SELECT count(*) FROM mq_send_batch('ttl_b', ARRAY['"b1"', '"b2"']::jsonb[]);
SELECT mq_send('ttl_c', '"c1"') AS id \gset
-- Before the TTL has passed they are there as usual.
SELECT body FROM mq_peek('ttl_a');
SELECT body FROM mq_peek('ttl_b');
SELECT queue, depth, inflight FROM mq_queues WHERE queue LIKE 'ttl\_%' ORDER BY queue;

SELECT clock_timestamp() AS t0 \gset
SELECT pg_sleep(1.1);
SELECT mq_send('ttl_a', '"fresh"') AS id \gset

-- mq_peek shows no expired message and moves nothing.
SELECT body FROM mq_peek('ttl_c');
SELECT depth FROM mq_queues WHERE queue = 'ttl_c';
SELECT body FROM mq_peek('ttl_a');
SELECT depth FROM mq_queues WHERE queue = 'ttl_dlq';

-- mq_read returns only the fresh message and moves the expired ready ones
-- to the dead-letter queue, with body, headers and priority.
SELECT body, deliveries FROM mq_read('ttl_a', 10, vt => '1 hour');
SELECT m.body, m.priority, m.deliveries, m.headers - 'mq_dead_letter' AS headers,
       m.headers->'mq_dead_letter'->>'queue' AS dl_queue,
       m.headers->'mq_dead_letter'->>'reason' AS reason,
       m.headers->'mq_dead_letter'->'deliveries' AS dl_deliveries,
       (m.headers->'mq_dead_letter'->>'at')::timestamptz BETWEEN :'t0' AND clock_timestamp() AS at_ok
  FROM mq_peek('ttl_dlq') AS m;
SELECT queue, depth, inflight, delayed FROM mq_queues WHERE queue IN ('ttl_a', 'ttl_dlq') ORDER BY queue;

-- The leased messages did not expire under their leases: one is acked ...
SELECT mq_ack('ttl_a', :r_ack);
-- ... the other one is nacked, and the next read moves it out, with the
-- delivery it had.
SELECT mq_nack('ttl_a', :r_nack);
SELECT depth FROM mq_queues WHERE queue = 'ttl_dlq';
SELECT body FROM mq_read('ttl_a', 10);
SELECT m.body, m.headers->'mq_dead_letter'->>'reason' AS reason,
       m.headers->'mq_dead_letter'->'deliveries' AS dl_deliveries
  FROM mq_peek('ttl_dlq') AS m WHERE m.body = '"to nack"';
-- Left: the fresh message (leased) and the one still delayed.
SELECT queue, depth, inflight, delayed FROM mq_queues WHERE queue IN ('ttl_a', 'ttl_dlq') ORDER BY queue;
SELECT sent, dead_lettered, expired FROM mq_stats WHERE queue = 'ttl_a';

-- mq_pop returns nothing and, without a dead-letter queue, drops them.
SELECT body FROM mq_pop('ttl_b', 10);
SELECT depth FROM mq_queues WHERE queue = 'ttl_b';
SELECT expired FROM mq_stats WHERE queue = 'ttl_b';
SELECT mq_send('ttl_b', '"b3"') AS id \gset
SELECT body FROM mq_pop('ttl_b', 10);

-- A read of the peeked queue moves its message out.
SELECT body FROM mq_read('ttl_c');
SELECT depth FROM mq_queues WHERE queue = 'ttl_c';

-- Clean up, and the worker back on.
SELECT mq_drop_queue(q) FROM unnest(ARRAY['ttl_a', 'ttl_b', 'ttl_c', 'ttl_dlq']) AS q;
ALTER SYSTEM RESET queue.worker_enabled;
SELECT pg_reload_conf();
