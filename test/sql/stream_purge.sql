--
-- mq_purge of a stream (SPEC section 3b): every record of every partition
-- goes, the count is returned, positions continue where they were, and
-- consumer groups carry on from the new first position.
--
SELECT mq_create_stream('sp_log', partitions => 2);
SELECT mq_create_group('sp_log', 'g');
SELECT count(*) FROM mq_append_batch('sp_log', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[],
                                     ARRAY['a', 'b', 'a', 'b']);
SELECT partition, position, body FROM mq_consume('sp_log', 'g', 1);
SELECT partition, first_position, next_position, records FROM mq_streams WHERE stream = 'sp_log' ORDER BY partition;

-- Rolled back, nothing goes.
BEGIN;
SELECT mq_purge('sp_log');
ROLLBACK;
SELECT sum(records) FROM mq_streams WHERE stream = 'sp_log';

SELECT mq_purge('sp_log');
SELECT partition, first_position, next_position, records FROM mq_streams WHERE stream = 'sp_log' ORDER BY partition;
SELECT count(*) FROM mq_stream_read('sp_log', 0, 0, 10);
SELECT count(*) FROM mq_consume('sp_log', 'g', 10);
-- Positions continue; the group reads what is appended after.
SELECT partition, position FROM mq_append('sp_log', '{"n": 5}', key => 'a');
SELECT partition, position, body FROM mq_consume('sp_log', 'g', 10);
SELECT partition, position, lag FROM mq_groups WHERE stream = 'sp_log' ORDER BY partition;
-- The next purge takes the record appended since; then nothing is left.
SELECT mq_purge('sp_log');
SELECT mq_purge('sp_log');

-- Privileges: manage.
CREATE ROLE sp_reader;
SELECT mq_grant('sp_log', 'sp_reader', ARRAY['read']);
SET ROLE sp_reader;
SELECT mq_purge('sp_log');
\echo :SQLSTATE
RESET ROLE;
-- A topic is neither.
SELECT mq_create_topic('sp_topic');
SELECT mq_purge('sp_topic');
\echo :SQLSTATE
SELECT mq_drop_topic('sp_topic');
SELECT mq_drop_stream('sp_log');
DROP ROLE sp_reader;
