--
-- Streams: creating, altering and dropping them; appends and their
-- partitions and positions; replay with mq_stream_read; idempotency keys;
-- the mq_streams view; every error.
--

-- Creating.
SELECT mq_create_stream('st_orders', partitions => 4);
SELECT mq_create_stream('st_orders');
SELECT mq_create_stream('st_orders', if_not_exists => true);
SELECT mq_create_queue('st_queue');
SELECT mq_create_stream('st_queue');
SELECT mq_create_queue('st_orders');
SELECT mq_create_stream('st_one');
SELECT mq_create_stream('st_limits', partitions => 2, max_age => '7 days', max_bytes => 1000000,
                        max_messages => 5000, dedup_window => '1 hour');
SELECT stream, partitions, partition, max_age, max_bytes, max_messages, dedup_window
  FROM mq_streams WHERE stream = 'st_limits' ORDER BY partition;

-- Bad arguments: 22023.
\set VERBOSITY terse
SELECT mq_create_stream(NULL);
SELECT mq_create_stream('');
SELECT mq_create_stream('bad name');
SELECT mq_create_stream(repeat('x', 49));
SELECT mq_create_stream('st_bad', partitions => 0);
SELECT mq_create_stream('st_bad', partitions => 1025);
SELECT mq_create_stream('st_bad', partitions => NULL);
SELECT mq_create_stream('st_bad', max_age => '-1 day');
SELECT mq_create_stream('st_bad', max_age => '0');
SELECT mq_create_stream('st_bad', max_bytes => 0);
SELECT mq_create_stream('st_bad', max_messages => -1);
SELECT mq_create_stream('st_bad', dedup_window => '-1 second');
SELECT mq_create_stream('st_bad', dedup_window => NULL);
SELECT mq_create_stream('st_bad', if_not_exists => NULL);
SELECT count(*) FROM mq_streams WHERE stream = 'st_bad';
\set VERBOSITY default

-- Altering: NULL keeps, reset restores the default.
SELECT mq_alter_stream('st_limits', max_age => '1 day', max_messages => 10);
SELECT max_age, max_bytes, max_messages, dedup_window FROM mq_streams WHERE stream = 'st_limits' AND partition = 0;
SELECT mq_alter_stream('st_limits', reset => '{max_age, max_bytes, dedup_window}');
SELECT max_age, max_bytes, max_messages, dedup_window FROM mq_streams WHERE stream = 'st_limits' AND partition = 0;
\set VERBOSITY terse
SELECT mq_alter_stream('st_limits', reset => '{partitions}');
SELECT mq_alter_stream('st_limits', reset => ARRAY[NULL]);
SELECT mq_alter_stream('st_limits', max_age => '1 day', reset => '{max_age}');
SELECT mq_alter_stream('st_limits', max_bytes => 0);
SELECT mq_alter_stream('st_nope', max_bytes => 10);
SELECT mq_alter_stream('st_queue', max_bytes => 10);
\set VERBOSITY default

-- Appends: positions start at 0 and are dense per partition; a key always
-- lands on the same partition (Kafka's murmur2); without a key, records go
-- round robin.
SELECT * FROM mq_append('st_one', '{"n": 1}');
SELECT * FROM mq_append('st_one', '{"n": 2}', key => 'k', headers => '{"trace": "t1"}');
SELECT * FROM mq_append_batch('st_one', ARRAY['3', '4', '5']::jsonb[]);
SELECT partition, "position", key, body, headers, appended_at <= clock_timestamp() AS timed
  FROM mq_stream_read('st_one', 0, 0);
SELECT "position", body FROM mq_stream_read('st_one', 0, 3);
SELECT "position", body FROM mq_stream_read('st_one', 0, 1, max => 2);
SELECT count(*) FROM mq_stream_read('st_one', 0, 5);
SELECT count(*) FROM mq_stream_read('st_one', 0, 1000000);

SELECT count(DISTINCT partition) AS partitions_of_one_key
  FROM generate_series(1, 20) i, LATERAL mq_append('st_orders', to_jsonb(i), key => 'customer-42');
SELECT partition, count(*) FROM generate_series(1, 8) i, LATERAL mq_append('st_orders', to_jsonb(i))
 GROUP BY partition ORDER BY partition;

-- Kafka's default partitioner: toPositive(murmur2(key)) % partitions, with
-- murmur2 values of Kafka's own tests.
SELECT mq_create_stream('st_kafka', partitions => 1024);
SELECT k, a.partition = (expected & 2147483647) % 1024 AS same_as_kafka
  FROM (VALUES ('1', -1993445489::bigint), ('12', 126087238), ('123', -267702483),
               ('1234', -1614185708), ('12345', -1188365604)) AS v(k, expected),
       LATERAL mq_append('st_kafka', '{}', key => k) a;

-- A rolled-back append leaves a hole, nothing else does.
BEGIN;
SELECT "position" FROM mq_append('st_one', '"rolled back"');
ROLLBACK;
SELECT "position" FROM mq_append('st_one', '"after the hole"');
SELECT "position", body FROM mq_stream_read('st_one', 0, 4);

-- A transaction reads its own appends.
BEGIN;
SELECT "position" FROM mq_append('st_one', '"own"');
SELECT "position", body FROM mq_stream_read('st_one', 0, 6);
COMMIT;

-- Batches: an empty one appends nothing; keys and headers go with their
-- bodies; every array must match bodies in length.
SELECT count(*) FROM mq_append_batch('st_one', ARRAY[]::jsonb[]);
SELECT mq_create_stream('st_batch', partitions => 3);
SELECT b.partition, b."position", r.key, r.body, r.headers
  FROM mq_append_batch('st_batch', ARRAY['1', '2', '3', '4']::jsonb[],
                       keys => ARRAY['a', 'b', 'a', NULL],
                       headers => ARRAY['{"h": 1}', NULL, '{"h": 3}', NULL]::jsonb[]) b,
       LATERAL mq_stream_read('st_batch', b.partition, b."position", 1) r
 ORDER BY r.body;
SELECT count(*) FROM mq_append_batch('st_batch', array_fill('{}'::jsonb, ARRAY[50000]));
SELECT sum(records) FROM mq_streams WHERE stream = 'st_batch';
\set VERBOSITY terse
SELECT * FROM mq_append_batch('st_batch', NULL);
SELECT * FROM mq_append_batch('st_batch', ARRAY['1', NULL]::jsonb[]);
SELECT * FROM mq_append_batch('st_batch', ARRAY['1']::jsonb[], keys => ARRAY['a', 'b']);
SELECT * FROM mq_append_batch('st_batch', ARRAY['1']::jsonb[], headers => ARRAY[]::jsonb[]);
SELECT * FROM mq_append_batch('st_batch', ARRAY['1']::jsonb[], idempotency_keys => ARRAY['a', 'b']);
SELECT * FROM mq_append_batch('st_batch', ARRAY['1']::jsonb[], headers => ARRAY['[1]']::jsonb[]);
SELECT * FROM mq_append_batch('st_batch', ARRAY[ARRAY['1'], ARRAY['2']]::jsonb[]);
\set VERBOSITY default

-- Bad appends and reads: 22023, 42704.
\set VERBOSITY terse
SELECT * FROM mq_append(NULL, '{}');
SELECT * FROM mq_append('st_nope', '{}');
SELECT * FROM mq_append('st_queue', '{}');
SELECT * FROM mq_append('st_one', NULL);
SELECT * FROM mq_append('st_one', '{}', headers => '"scalar"');
SELECT * FROM mq_append('st_one', '{}', headers => '{"mq_x": 1}');
SELECT * FROM mq_append('st_one', '{}', idempotency_key => '');
SELECT * FROM mq_stream_read('st_nope', 0, 0);
SELECT * FROM mq_stream_read('st_one', NULL, 0);
SELECT * FROM mq_stream_read('st_one', 1, 0);
SELECT * FROM mq_stream_read('st_one', -1, 0);
SELECT * FROM mq_stream_read('st_one', 0, NULL);
SELECT * FROM mq_stream_read('st_one', 0, -1);
SELECT * FROM mq_stream_read('st_one', 0, 0, 0);
SELECT * FROM mq_stream_read('st_one', 0, 0, 10001);
SELECT * FROM mq_stream_read('st_one', 0, 0, NULL);
\set VERBOSITY default

-- Idempotency keys: a duplicate within the window returns the first
-- record and appends nothing, also within one batch; window 0 keeps none.
SELECT mq_create_stream('st_keys', partitions => 8);
SELECT partition AS p, "position" AS pos FROM mq_append('st_keys', '"first"', idempotency_key => 'order-1') \gset
SELECT partition = :p AND "position" = :pos AS same
  FROM mq_append('st_keys', '"again"', key => 'other', idempotency_key => 'order-1');
SELECT count(*) FROM mq_append_batch('st_keys', ARRAY['"b1"', '"b2"', '"b3"']::jsonb[],
                                     idempotency_keys => ARRAY['order-1', 'order-2', 'order-2']);
SELECT sum(records) FROM mq_streams WHERE stream = 'st_keys';
SELECT mq_create_stream('st_nokeys', dedup_window => '0');
SELECT "position" FROM mq_append_batch('st_nokeys', ARRAY['1', '2']::jsonb[], idempotency_keys => ARRAY['z', 'z']);

-- The view: one row per partition.
SELECT stream, partition, first_position, next_position, records, bytes > 0 AS has_bytes
  FROM mq_streams WHERE stream IN ('st_one', 'st_orders') ORDER BY stream, partition;

-- Reads keep their records in memory shared by the backend's reads until
-- the last query using it ends: reads nested inside a read, a cursor left
-- open across other reads, and a read ended by an error each leave the
-- others' records intact.
CREATE FUNCTION st_count_from(p bigint) RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM mq_stream_read('st_one', 0, p, 3) $$;
SELECT "position", body, st_count_from("position") AS next_three
  FROM mq_stream_read('st_one', 0, 0);
BEGIN;
DECLARE st_cur CURSOR FOR SELECT "position", body FROM mq_stream_read('st_one', 0, 0);
FETCH 2 FROM st_cur;
SELECT count(*) FROM mq_stream_read('st_one', 0, 0);
DO $$
BEGIN
    PERFORM * FROM mq_stream_read('st_one', 0, 0) AS r WHERE 1 / ("position" - "position") = 0;
EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'a read ended by an error';
END $$;
FETCH ALL FROM st_cur;
COMMIT;
SELECT array_agg("position") FROM mq_stream_read('st_one', 0, 0);
DROP FUNCTION st_count_from(bigint);

-- PREPARE TRANSACTION after an append: 0A000.
BEGIN;
SELECT "position" FROM mq_append('st_one', '"prepared"');
PREPARE TRANSACTION 'st_prep';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'st_prep';

-- Dropping.
SELECT mq_drop_stream('st_nope');
SELECT mq_drop_stream('st_nope', if_exists => true);
SELECT mq_drop_stream('st_queue');
SELECT mq_drop_queue('st_queue');
SELECT mq_drop_stream(s) FROM unnest(ARRAY['st_orders', 'st_one', 'st_limits', 'st_kafka',
                                           'st_batch', 'st_keys', 'st_nokeys']) AS s;
SELECT count(*) FROM mq_streams;
SELECT count(*) FROM pg_class WHERE relnamespace = 'mq'::regnamespace AND relname ~ '^s_';
