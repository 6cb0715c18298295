--
-- Triage of failures (SPEC section 3b): mq_nack's reason kept as
-- mq_last_error, dead letters that keep their original id and enqueue
-- time, max_deliveries in mq_message, and mq_redrive by source queue or id.
--
SELECT mq_create_queue('tr_dlq');
SELECT mq_create_queue('tr_a', max_deliveries => 1, dead_letter_queue => 'tr_dlq');
SELECT mq_create_queue('tr_b', max_deliveries => 1, dead_letter_queue => 'tr_dlq');
SELECT mq_create_queue('tr_plain');

-- max_deliveries shows on every message read, peeked or popped.
SELECT mq_send('tr_plain', '{}');
SELECT id, max_deliveries FROM mq_peek('tr_plain');
SELECT id, max_deliveries FROM mq_pop('tr_plain');

-- A nack with a reason keeps it on the message, also while it is retried.
SELECT mq_create_queue('tr_retry', max_deliveries => 3, dead_letter_queue => 'tr_dlq');
SELECT mq_send('tr_retry', '{"n": 1}', headers => '{"trace": "t1"}') AS retry_id \gset
SELECT receipt AS r, max_deliveries FROM mq_read('tr_retry') \gset
\echo :max_deliveries
SELECT mq_nack('tr_retry', :r, reason => 'card declined');
SELECT headers FROM mq_inspect('tr_retry');
SELECT receipt AS r FROM mq_read('tr_retry') \gset
-- A nack without a reason keeps the last one.
SELECT mq_nack('tr_retry', :r);
SELECT headers FROM mq_read('tr_retry');
-- A rolled-back nack leaves no reason.
SELECT mq_send('tr_retry', '{"n": 2}') AS second \gset
SELECT receipt AS r2 FROM mq_read('tr_retry') WHERE id = :second \gset
BEGIN;
SELECT mq_nack('tr_retry', :r2, reason => 'rolled back');
ROLLBACK;
SELECT id, headers FROM mq_inspect('tr_retry') WHERE id = :second;
-- With a delay, the reason is kept too.
SELECT mq_nack('tr_retry', :r2, delay => '1 hour', reason => 'try later');
SELECT id, state, headers FROM mq_inspect('tr_retry') WHERE id = :second;

-- Dead letters keep the original id and enqueue time, and the last error.
SELECT mq_send('tr_a', '{"from": "a1"}') AS a1 \gset
SELECT mq_send('tr_b', '{"from": "b1"}') AS b1 \gset
SELECT mq_send('tr_a', '{"from": "a2"}') AS a2 \gset
SELECT enqueued_at AS a1_enqueued FROM mq_inspect('tr_a') WHERE id = :a1 \gset
SELECT mq_nack('tr_a', receipt, reason => 'bad input ' || (body->>'from'))
  FROM mq_read('tr_a', 10);
SELECT mq_nack('tr_b', receipt, reason => 'timeout') FROM mq_read('tr_b', 10);
SELECT id, headers->'mq_dead_letter'->>'queue' AS queue,
       headers->'mq_dead_letter'->>'reason' AS reason,
       (headers->'mq_dead_letter'->>'id')::bigint AS original_id,
       headers->>'mq_last_error' AS last_error, body
  FROM mq_inspect('tr_dlq') ORDER BY id;
SELECT (headers->'mq_dead_letter'->>'enqueued_at')::timestamptz = :'a1_enqueued' AS same_time,
       headers->'mq_dead_letter'->>'enqueued_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS iso
  FROM mq_inspect('tr_dlq')
 WHERE (headers->'mq_dead_letter'->>'id')::bigint = :a1
   AND headers->'mq_dead_letter'->>'queue' = 'tr_a';

-- Redrive of one source queue: only its letters move.
SELECT mq_redrive('tr_dlq', source_queue => 'tr_b');
SELECT body, headers FROM mq_inspect('tr_b');
SELECT body FROM mq_inspect('tr_dlq') ORDER BY id;
-- Redrive by id: only those letters (ids in the dead-letter queue).
SELECT min(id) AS first_letter FROM mq_inspect('tr_dlq') \gset
SELECT mq_redrive('tr_dlq', ids => ARRAY[:first_letter, 99999]);
SELECT body FROM mq_inspect('tr_a');
SELECT body FROM mq_inspect('tr_dlq');
-- Both filters: the letter must match both.
SELECT id AS last_letter FROM mq_inspect('tr_dlq') \gset
SELECT mq_redrive('tr_dlq', source_queue => 'tr_b', ids => ARRAY[:last_letter]);
SELECT mq_redrive('tr_dlq', max => 1, source_queue => 'tr_a');
SELECT count(*) FROM mq_inspect('tr_dlq');
SELECT mq_redrive('tr_dlq', source_queue => 'tr_none');
SELECT mq_redrive('tr_dlq', ids => ARRAY[NULL]::bigint[]);
\echo :SQLSTATE
SELECT mq_redrive('tr_dlq', source_queue => 'bad name');
\echo :SQLSTATE

-- A letter from a topic can be moved back by hand: its reserved headers
-- travel with it.
SELECT mq_create_topic('tr_topic');
SELECT mq_create_queue('tr_sub', max_deliveries => 1, dead_letter_queue => 'tr_dlq');
SELECT mq_subscribe('tr_topic', 'tr_sub');
SELECT mq_publish('tr_topic', 'order.created', '{"t": 1}');
SELECT mq_nack('tr_sub', receipt, reason => 'no handler') FROM mq_read('tr_sub');
SELECT id AS topic_letter FROM mq_inspect('tr_dlq')
 WHERE headers->'mq_dead_letter'->>'queue' = 'tr_sub' \gset
SELECT mq_move('tr_dlq', ARRAY[:topic_letter], 'tr_plain');
SELECT headers->>'mq_topic' AS topic, headers->>'mq_routing_key' AS routing_key,
       headers->>'mq_last_error' AS last_error, headers ? 'mq_dead_letter' AS letter
  FROM mq_inspect('tr_plain');
-- Senders still may not set mq_ headers themselves.
SELECT mq_send('tr_plain', '{}', headers => '{"mq_last_error": "x"}');
\echo :SQLSTATE

SELECT mq_drop_queue('tr_retry');
SELECT mq_drop_queue('tr_a');
SELECT mq_drop_queue('tr_b');
SELECT mq_drop_queue('tr_sub');
SELECT mq_drop_topic('tr_topic');
SELECT mq_drop_queue('tr_plain');
SELECT mq_drop_queue('tr_dlq');
