--
-- mq_queues' oldest_age and newest_age: how long ago the oldest and the
-- newest stored message were enqueued, in any state; and last_id, the
-- highest id given so far.  Both ages are taken at the same moment, so
-- their difference is exactly the span of the stored messages' enqueue
-- times, as mq_inspect shows them.
--
SELECT mq_create_queue('qa_q');
SELECT oldest_age, newest_age, last_id FROM mq_queues WHERE queue = 'qa_q';
CREATE VIEW qa_span AS
SELECT q.queue, q.oldest_age - q.newest_age AS age_span,
       (SELECT max(enqueued_at) - min(enqueued_at) FROM mq_inspect(q.queue, qty => 10000)) AS span,
       q.oldest_age > interval '0' AND q.oldest_age < interval '1 minute' AS recent
  FROM mq_queues q;

-- The oldest of priority 0, then one of priority 5, then a delayed one.
SELECT mq_send('qa_q', '{"n": 1}') AS id1 \gset
SELECT pg_sleep(0.05);
SELECT mq_send('qa_q', '{"n": 2}', priority => 5) AS id2 \gset
SELECT pg_sleep(0.05);
SELECT mq_send('qa_q', '{"n": 3}', delay => '1 hour') AS id3 \gset
SELECT age_span = span AS exact, age_span >= interval '0.1 seconds' AS spans_1_to_3, recent
  FROM qa_span WHERE queue = 'qa_q';
-- A lease changes neither (any state counts).
SELECT id FROM mq_read('qa_q', 1, '1 hour');
SELECT age_span = span AS exact, age_span >= interval '0.1 seconds' AS spans_1_to_3
  FROM qa_span WHERE queue = 'qa_q';
-- Without 3 the newest is 2; without 1 too, 2 is the oldest and the newest.
SELECT mq_delete('qa_q', ARRAY[:id3]);
SELECT age_span = span AS exact FROM qa_span WHERE queue = 'qa_q';
SELECT mq_delete('qa_q', ARRAY[:id1]);
SELECT age_span, span FROM qa_span WHERE queue = 'qa_q';
SELECT mq_purge('qa_q');
-- Ids are never given again: last_id stays.
SELECT oldest_age, newest_age, last_id FROM mq_queues WHERE queue = 'qa_q';
SELECT mq_send('qa_q', '{"n": 4}');
SELECT last_id FROM mq_queues WHERE queue = 'qa_q';

-- Message groups: a message waiting for its group (parked) counts too.
SELECT mq_create_queue('qa_g');
SELECT mq_send('qa_g', '{"n": 1}', group_key => 'g');
SELECT pg_sleep(0.05);
SELECT mq_send('qa_g', '{"n": 2}', group_key => 'g');
SELECT age_span = span AS exact, age_span >= interval '0.05 seconds' AS spans_both
  FROM qa_span WHERE queue = 'qa_g';

DROP VIEW qa_span;
SELECT mq_drop_queue('qa_q');
SELECT mq_drop_queue('qa_g');
