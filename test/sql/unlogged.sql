--
-- Unlogged queues: storage without WAL, shown in mq_queues; mq_alter_queue
-- switches a queue either way and keeps its messages, leases and keys.
-- (That a crash empties an unlogged queue is a TAP test.)
--

-- The persistence of every relation that stores a queue, as one text
-- (p = logged, u = unlogged): the table, its index, the keys table and its
-- index, the id sequence.
CREATE FUNCTION pg_temp.persistence(q text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(regexp_replace(c.relname, '^q_\d+', 'q') || '=' || c.relpersistence::text, ' ' ORDER BY c.relname)
      FROM mq.objects o
      JOIN pg_class c ON c.relnamespace = 'mq'::regnamespace
                     AND c.relname ~ ('^q_' || o.id || '(_|$)')
     WHERE o.name = q
$$;

SELECT mq_create_queue('unl_q', unlogged => true);
SELECT mq_create_queue('unl_logged');
SELECT queue, unlogged FROM mq_queues WHERE queue LIKE 'unl\_%' ORDER BY queue;
SELECT pg_temp.persistence('unl_q') AS unl_q, pg_temp.persistence('unl_logged') AS unl_logged;

-- It works like any queue: send, batch, keys, read, ack, nack, pop.
SELECT mq_send('unl_q', '"one"', headers => '{"h": 1}', priority => 2, idempotency_key => 'u-1') AS first_id \gset
SELECT count(*) FROM mq_send_batch('unl_q', ARRAY['"two"', '"three"', '"four"']::jsonb[]);
SELECT mq_send('unl_q', '"one again"', idempotency_key => 'u-1') = :first_id AS same_id;
SELECT receipt AS r, body, deliveries FROM mq_read('unl_q', vt => '1 hour') \gset
\echo :body :deliveries
SELECT body FROM mq_pop('unl_q');
SELECT receipt AS r_nack FROM mq_read('unl_q', vt => '1 hour') \gset
SELECT mq_nack('unl_q', :r_nack, delay => '1 hour');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'unl_q';
SELECT max(id) AS max_id FROM mq_peek('unl_q') \gset

-- To logged: everything stays, the lease holds, and its receipt still acks
-- later.
SELECT mq_alter_queue('unl_q', unlogged => false);
SELECT queue, unlogged FROM mq_queues WHERE queue = 'unl_q';
SELECT pg_temp.persistence('unl_q');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'unl_q';
SELECT body, headers, priority, deliveries FROM mq_peek('unl_q');
SELECT count(*) FROM mq_read('unl_q', 10, vt => '1 hour');
SELECT mq_send('unl_q', '"one once more"', idempotency_key => 'u-1') = :first_id AS same_id;
SELECT mq_send('unl_q', '"five"') > :max_id AS ids_go_on;
SELECT mq_ack('unl_q', :r);

-- And back to unlogged.
SELECT mq_alter_queue('unl_q', unlogged => true);
SELECT queue, unlogged FROM mq_queues WHERE queue = 'unl_q';
SELECT pg_temp.persistence('unl_q');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'unl_q';
SELECT body FROM mq_peek('unl_q');
SELECT mq_send('unl_q', '"one yet again"', idempotency_key => 'u-1') = :first_id AS same_id;
SELECT mq_send('unl_q', '"six"') > :max_id AS ids_go_on;

-- Setting what is already set changes nothing; reset makes it logged.
SELECT mq_alter_queue('unl_q', unlogged => true);
SELECT pg_temp.persistence('unl_q');
SELECT mq_alter_queue('unl_q', reset => '{unlogged}');
SELECT queue, unlogged FROM mq_queues WHERE queue = 'unl_q';
SELECT pg_temp.persistence('unl_q');
SELECT body FROM mq_peek('unl_q');

-- A logged queue made unlogged.
SELECT mq_send('unl_logged', '"kept"') AS id \gset
SELECT mq_alter_queue('unl_logged', unlogged => true);
SELECT queue, unlogged FROM mq_queues WHERE queue = 'unl_logged';
SELECT pg_temp.persistence('unl_logged');
SELECT body FROM mq_pop('unl_logged');

-- A rolled-back switch leaves the queue as it was.
BEGIN;
SELECT mq_alter_queue('unl_logged', unlogged => false);
ROLLBACK;
SELECT queue, unlogged FROM mq_queues WHERE queue = 'unl_logged';
SELECT pg_temp.persistence('unl_logged');

SELECT mq_drop_queue('unl_q');
SELECT mq_drop_queue('unl_logged');
