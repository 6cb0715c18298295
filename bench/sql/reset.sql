-- Empty every contender's storage before a run, so that no run bills the
-- next one for its rows, its dead tuples or its table size.
TRUNCATE raw_q RESTART IDENTITY;
SELECT mq_drop_queue('q', if_exists => true);
SELECT mq_create_queue('q');
SELECT pgq.drop_queue('pq', true) FROM pgq.queue WHERE queue_name = 'pq';
SELECT pgq.create_queue('pq');
SELECT bench.fanout_reset();
