-- Topics: create, subscribe, publish, unsubscribe, drop (SPEC section 4).

SELECT mq_create_topic('tp_orders');
SELECT mq_create_topic('tp_orders');                      -- 42710
SELECT mq_create_topic('tp_orders', if_not_exists => true);
SELECT mq_create_queue('tp_orders');                      -- one namespace: 42710
SELECT mq_create_queue('tp_pay');
SELECT mq_create_queue('tp_fraud');
SELECT mq_create_queue('tp_all');
SELECT mq_create_topic('tp_pay');                         -- 42710

-- Subscriptions
SELECT mq_subscribe('tp_orders', 'tp_pay', 'order.created');
SELECT mq_subscribe('tp_orders', 'tp_fraud', 'order.*');
SELECT mq_subscribe('tp_orders', 'tp_all');               -- default pattern '#'
SELECT mq_subscribe('tp_orders', 'tp_all', 'order.#');    -- a second binding, same queue
SELECT mq_subscribe('tp_orders', 'tp_all', 'order.#');    -- again: nothing new
SELECT * FROM mq_topics WHERE topic = 'tp_orders' ORDER BY queue, pattern;

-- Publishing: each matching queue gets one copy; the result counts them.
SELECT mq_publish('tp_orders', 'order.created', '{"order": 1}') AS delivered;
SELECT mq_publish('tp_orders', 'order.paid', '{"order": 1}') AS delivered;
SELECT mq_publish('tp_orders', 'user.signed.up', '{"user": 7}', '{"trace": "x"}') AS delivered;
SELECT queue, depth FROM mq_queues WHERE queue LIKE 'tp\_%' ORDER BY queue;
SELECT body, headers FROM mq_peek('tp_all') ORDER BY id;
SELECT body, headers FROM mq_peek('tp_fraud') ORDER BY id;

-- No subscriber matches: nobody gets it, the result is 0.
SELECT mq_create_topic('tp_quiet');
SELECT mq_publish('tp_quiet', 'a.b', '1') AS delivered;

-- Copies are ordinary messages of their queues.
SELECT count(*) FROM (SELECT mq_ack('tp_pay', receipt) FROM mq_read('tp_pay', 10)) a;
SELECT depth FROM mq_queues WHERE queue = 'tp_pay';

-- Idempotency keys are per topic: a duplicate delivers nothing, returns NULL.
SELECT mq_publish('tp_orders', 'order.created', '{"order": 2}', idempotency_key => 'o-2') AS delivered;
SELECT mq_publish('tp_orders', 'order.created', '{"order": 2}', idempotency_key => 'o-2') AS delivered;
SELECT mq_publish('tp_quiet', 'order.created', '{"order": 2}', idempotency_key => 'o-2') AS other_topic;
SELECT count(*) FROM mq_peek('tp_pay', 100) WHERE body = '{"order": 2}';

-- A rolled-back publish leaves nothing, and its key is free again.
BEGIN;
SELECT mq_publish('tp_orders', 'order.created', '{"order": 3}', idempotency_key => 'o-3') AS delivered;
ROLLBACK;
SELECT count(*) FROM mq_peek('tp_pay', 100) WHERE body = '{"order": 3}';
SELECT mq_publish('tp_orders', 'order.created', '{"order": 3}', idempotency_key => 'o-3') AS delivered;

-- A full subscriber under 'reject' is skipped and counted; the others get theirs.
SELECT mq_create_queue('tp_small', max_length => 1);
SELECT mq_subscribe('tp_orders', 'tp_small', 'order.created');
SELECT rejected AS rejected_before FROM mq_stats WHERE queue = 'tp_small' \gset
SELECT mq_publish('tp_orders', 'order.created', '{"order": 4}') AS delivered;
SELECT mq_publish('tp_orders', 'order.created', '{"order": 5}') AS delivered;
SELECT rejected - :rejected_before AS rejected FROM mq_stats WHERE queue = 'tp_small';
SELECT body FROM mq_peek('tp_small');
-- ... and one under 'drop_oldest' makes room.
SELECT mq_alter_queue('tp_small', overflow => 'drop_oldest');
SELECT mq_publish('tp_orders', 'order.created', '{"order": 6}') AS delivered;
SELECT body FROM mq_peek('tp_small');

-- Unsubscribing: one pattern, then all of a queue's.
SELECT mq_unsubscribe('tp_orders', 'tp_all', 'order.#');
SELECT mq_unsubscribe('tp_orders', 'tp_all', 'order.#');  -- none left: 0
SELECT mq_unsubscribe('tp_orders', 'tp_fraud');
SELECT * FROM mq_topics WHERE topic = 'tp_orders' ORDER BY queue, pattern;

-- Dropping a queue removes its subscriptions.
SELECT mq_drop_queue('tp_small');
SELECT * FROM mq_topics WHERE topic = 'tp_orders' ORDER BY queue, pattern;
SELECT mq_publish('tp_orders', 'order.created', '{"order": 7}') AS delivered;

-- Errors, each with its SQLSTATE; none changes anything.
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE sql; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
SELECT q AS call, pg_temp.err(q) AS result FROM (VALUES
    ($q$SELECT mq_subscribe('tp_nope', 'tp_pay')$q$),
    ($q$SELECT mq_subscribe('tp_orders', 'tp_nope')$q$),
    ($q$SELECT mq_subscribe('tp_orders', 'tp_orders')$q$),
    ($q$SELECT mq_unsubscribe('tp_orders', 'tp_nope')$q$),
    ($q$SELECT mq_publish('tp_nope', 'a', '1')$q$),
    ($q$SELECT mq_publish('tp_pay', 'a', '1')$q$),
    ($q$SELECT mq_publish(NULL, 'a', '1')$q$),
    ($q$SELECT mq_publish('tp_orders', NULL, '1')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a', NULL)$q$),
    ($q$SELECT mq_publish('tp_orders', 'a', '1', '[1]')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a', '1', '{"mq_topic": "x"}')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a b', '1')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a..b', '1')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a.*', '1')$q$),
    ($q$SELECT mq_publish('tp_orders', 'a', '1', idempotency_key => '')$q$),
    ($q$SELECT mq_subscribe('tp_orders', 'tp_pay', NULL)$q$),
    ($q$SELECT mq_create_topic('bad name')$q$),
    ($q$SELECT mq_create_topic('tp_x', dedup_window => '-1 s')$q$),
    ($q$SELECT mq_drop_topic('tp_nope')$q$),
    ($q$SELECT mq_drop_topic('tp_nope', if_exists => true)$q$)
) AS t(q);
SELECT * FROM mq_topics WHERE topic = 'tp_orders' ORDER BY queue, pattern;

-- Dropping topics
SELECT mq_drop_topic('tp_orders');
SELECT mq_drop_topic('tp_quiet');
SELECT count(*) FROM mq_topics WHERE topic LIKE 'tp\_%';
SELECT mq_drop_queue('tp_pay');
SELECT mq_drop_queue('tp_fraud');
SELECT mq_drop_queue('tp_all');
