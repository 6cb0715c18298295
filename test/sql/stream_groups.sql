--
-- Consumer groups: creating and dropping them, consuming (positions move
-- with the caller's transaction), seeking by position and by time, the
-- mq_groups view, mq_stats, and every error.
--
SELECT mq_create_stream('sg_log', partitions => 2);
-- Keys 'a' and 'd' land on partitions 0 and 1.
SELECT partition, "position" FROM mq_append_batch('sg_log',
    ARRAY['"a1"', '"d1"', '"a2"', '"a3"', '"d2"']::jsonb[], keys => ARRAY['a', 'd', 'a', 'a', 'd']);

-- A new group starts at the earliest record, or at the end.
SELECT mq_create_group('sg_log', 'all');
SELECT mq_create_group('sg_log', 'new', start => 'latest');
SELECT mq_create_group('sg_log', 'all', if_not_exists => true);
SELECT stream, consumer_group, partition, "position", lag FROM mq_groups ORDER BY 2, 3;

-- Consuming: one partition per call, its records in order; the position
-- moves in the caller's transaction.
BEGIN;
SELECT partition, "position", key, body FROM mq_consume('sg_log', 'all', 2);
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;
ROLLBACK;
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;
SELECT partition, "position", body FROM mq_consume('sg_log', 'all', 2);
SELECT partition, "position", body FROM mq_consume('sg_log', 'all', 10);
SELECT partition, "position", body FROM mq_consume('sg_log', 'all', 10);
SELECT count(*) FROM mq_consume('sg_log', 'all', 10);
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;

-- 'latest' sees only what comes after it was created.
SELECT count(*) FROM mq_consume('sg_log', 'new');
SELECT partition, "position" FROM mq_append('sg_log', '"a4"', key => 'a');
SELECT partition, "position", body FROM mq_consume('sg_log', 'new');

-- Seeking by position (clamped to the records there are) and by time.
SELECT mq_seek('sg_log', 'all', 0, 1);
SELECT partition, "position", body FROM mq_consume('sg_log', 'all', 10);
SELECT mq_seek('sg_log', 'all', 1, -5);
SELECT mq_seek('sg_log', 'all', 0, 1000);
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;
SELECT mq_seek('sg_log', 'all', '-infinity'::timestamptz);
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;
SELECT mq_seek('sg_log', 'all', 'infinity'::timestamptz);
SELECT consumer_group, partition, "position", lag FROM mq_groups WHERE consumer_group = 'all' ORDER BY 2, 3;

-- mq_stats counts appends and consumed records of committed transactions.
SELECT queue, appended, consumed FROM mq_stats WHERE queue = 'sg_log';
SELECT mq_stats_reset('sg_log');
SELECT queue, appended, consumed FROM mq_stats WHERE queue = 'sg_log';

-- A waiting consume on READ COMMITTED returns when its wait ends.
SELECT count(*) FROM mq_consume('sg_log', 'new', wait => '10 milliseconds');

-- Errors.
\set VERBOSITY terse
SELECT mq_create_group('sg_log', 'all');
SELECT mq_create_group('sg_nope', 'g');
SELECT mq_create_group('sg_log', NULL);
SELECT mq_create_group('sg_log', 'bad name');
SELECT mq_create_group('sg_log', 'g', start => 'middle');
SELECT mq_create_group('sg_log', 'g', start => NULL);
SELECT mq_create_group('sg_log', 'g', if_not_exists => NULL);
SELECT * FROM mq_consume('sg_log', 'nope');
SELECT * FROM mq_consume('sg_nope', 'all');
SELECT * FROM mq_consume('sg_log', 'all', 0);
SELECT * FROM mq_consume('sg_log', 'all', 10001);
SELECT * FROM mq_consume('sg_log', 'all', wait => '-1 second');
SELECT * FROM mq_consume('sg_log', 'all', wait => NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM mq_consume('sg_log', 'all', wait => '1 second');
ROLLBACK;
SELECT mq_seek('sg_log', 'nope', 0, 0);
SELECT mq_seek('sg_log', 'all', 2, 0);
SELECT mq_seek('sg_log', 'all', 0, NULL);
SELECT mq_seek('sg_log', 'nope', now());
SELECT mq_seek('sg_log', 'all', NULL::timestamptz);
SELECT mq_seek('sg_log', 'all', 0, 0);
BEGIN;
SELECT count(*) FROM mq_consume('sg_log', 'all');
PREPARE TRANSACTION 'sg_prep';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'sg_prep';
\set VERBOSITY default

-- Dropping.
SELECT mq_drop_group('sg_log', 'new');
SELECT mq_drop_group('sg_log', 'new');
SELECT mq_drop_group('sg_log', 'new', if_exists => true);
SELECT stream, consumer_group, partition FROM mq_groups ORDER BY 2, 3;
SELECT mq_drop_stream('sg_log');
SELECT count(*) FROM mq_groups;
