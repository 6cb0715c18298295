-- Empty every contender's storage before a run, so that no run bills the
-- next one for its rows, its dead tuples or its table size.
TRUNCATE raw_q RESTART IDENTITY;
SELECT mq_drop_queue('q', if_exists => true);
SELECT mq_create_queue('q');
SELECT pgq.drop_queue('pq', true) FROM pgq.queue WHERE queue_name = 'pq';
SELECT pgq.create_queue('pq');
-- (Builds without topics, in an A/B against an older commit, skip it.)
SELECT bench.fanout_reset() WHERE EXISTS (SELECT FROM pg_proc WHERE proname = 'mq_create_topic');
SELECT bench.streams_reset() WHERE EXISTS (SELECT FROM pg_proc WHERE proname = 'mq_create_stream');
-- With BENCH_GRANTEE, the role pgbench connects as holds a grant on q
-- (builds without privileges, in an A/B, need none and have no mq_grant).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app')
       AND EXISTS (SELECT FROM pg_proc WHERE proname = 'mq_grant') THEN
        EXECUTE $g$SELECT mq_grant('q', 'bench_app', '{all}')$g$;
    END IF;
END
$$;
