--
-- Queue DDL: mq_create_queue, mq_alter_queue, mq_drop_queue and names.
--
-- Every option's default shows in mq_queues; alter sets options, leaves
-- NULL ones unchanged and resets named ones to their defaults.
--

-- How many storage tables exist before this file creates any.
SELECT count(*) AS tables_before
  FROM pg_class
 WHERE relnamespace = 'mq'::regnamespace AND relkind = 'r' AND relname ~ '^q_\d+$' \gset

-- Defaults of every option.
SELECT mq_create_queue('ddl_defaults');
SELECT queue, depth, ready, inflight, delayed, oldest_ready_age,
       dead_letter_queue, visibility_timeout, max_deliveries, message_ttl,
       max_length, overflow, max_inflight, dedup_window, unlogged
  FROM mq_queues WHERE queue = 'ddl_defaults';
SELECT created_at <= clock_timestamp() AND created_at > clock_timestamp() - interval '1 minute' AS created_recently
  FROM mq_queues WHERE queue = 'ddl_defaults';

-- One storage table per queue.
SELECT count(*) - :tables_before AS new_tables
  FROM pg_class
 WHERE relnamespace = 'mq'::regnamespace AND relkind = 'r' AND relname ~ '^q_\d+$';

-- Every option given explicitly (the policies at their defaults; their
-- other values are tested in alter_options and the files on each policy).
SELECT mq_create_queue('ddl_options',
                       visibility_timeout => '5 minutes',
                       max_deliveries => NULL,
                       dead_letter_queue => NULL,
                       message_ttl => NULL,
                       max_length => NULL,
                       overflow => 'reject',
                       max_inflight => NULL,
                       dedup_window => '2 hours',
                       unlogged => false,
                       if_not_exists => false);
SELECT queue, visibility_timeout, overflow, dedup_window, unlogged
  FROM mq_queues WHERE queue = 'ddl_options';

-- A zero visibility timeout and a zero dedup window are allowed.
SELECT mq_create_queue('ddl_zero', visibility_timeout => '0', dedup_window => '0');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_zero';

-- Creating an existing queue fails; with if_not_exists it is a notice and
-- the existing queue keeps its options.
SELECT mq_create_queue('ddl_options');
\echo :SQLSTATE
SELECT mq_create_queue('ddl_options', visibility_timeout => '1 second', if_not_exists => true);
SELECT queue, visibility_timeout FROM mq_queues WHERE queue = 'ddl_options';

-- mq_alter_queue: set options.
SELECT mq_alter_queue('ddl_defaults', visibility_timeout => '45 seconds', dedup_window => '3 hours');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';

-- NULL means unchanged: no option at all, or some options NULL.
SELECT mq_alter_queue('ddl_defaults');
SELECT mq_alter_queue('ddl_defaults', visibility_timeout => NULL, dedup_window => '4 hours');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';

-- Options set to their default values are accepted.
SELECT mq_alter_queue('ddl_defaults', overflow => 'reject', unlogged => false);
SELECT queue, overflow, unlogged FROM mq_queues WHERE queue = 'ddl_defaults';

-- reset puts options back to their defaults and leaves the others alone.
SELECT mq_alter_queue('ddl_defaults', reset => '{dedup_window}');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';
SELECT mq_alter_queue('ddl_defaults', visibility_timeout => '10 seconds',
                      reset => '{dedup_window}');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';
SELECT mq_alter_queue('ddl_options',
                      reset => ARRAY['visibility_timeout', 'max_deliveries', 'dead_letter_queue',
                                     'message_ttl', 'max_length', 'overflow', 'max_inflight',
                                     'dedup_window', 'unlogged']);
SELECT queue, dead_letter_queue, visibility_timeout, max_deliveries, message_ttl,
       max_length, overflow, max_inflight, dedup_window, unlogged
  FROM mq_queues WHERE queue = 'ddl_options';
-- An empty reset list changes nothing.
SELECT mq_alter_queue('ddl_defaults', reset => '{}');
SELECT queue, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';

-- An unknown option name in reset is an error, and nothing changes.
SELECT mq_alter_queue('ddl_defaults', visibility_timeout => '1 hour', reset => '{no_such_option}');
\echo :SQLSTATE
SELECT queue, visibility_timeout FROM mq_queues WHERE queue = 'ddl_defaults';

-- Altering an unknown queue.
SELECT mq_alter_queue('ddl_nowhere', visibility_timeout => '1 minute');
\echo :SQLSTATE

-- Names: case-sensitive, stored exactly as given, 1 to 48 characters from
-- [A-Za-z0-9_.-].
SELECT mq_create_queue('Ddl_Case');
SELECT mq_create_queue('ddl_case');
SELECT mq_create_queue('DDL_CASE');
SELECT mq_send('Ddl_Case', '"upper"') AS id \gset
SELECT mq_send('ddl_case', '"lower"') AS id \gset
SELECT body FROM mq_peek('Ddl_Case');
SELECT body FROM mq_peek('ddl_case');
SELECT count(*) FROM mq_peek('DDL_CASE');
SELECT queue FROM mq_queues WHERE lower(queue) = 'ddl_case' ORDER BY queue COLLATE "C";

SELECT mq_create_queue('ddl.name-with_all-0123456789');
SELECT mq_create_queue(repeat('x', 44) || '_48c');
SELECT queue, length(queue) FROM mq_queues WHERE queue LIKE 'xxxx%' OR queue LIKE 'ddl.%' ORDER BY queue;
SELECT mq_send(repeat('x', 44) || '_48c', '{"long": "name"}') AS id \gset
SELECT body FROM mq_pop(repeat('x', 44) || '_48c');
SELECT mq_create_queue(repeat('x', 46) || '_49');
\echo :SQLSTATE
SELECT mq_create_queue('ddl space');
\echo :SQLSTATE
SELECT mq_create_queue('');
\echo :SQLSTATE

-- mq_drop_queue returns true and removes the storage table; a second drop
-- fails, or with if_exists is a notice and returns false.
SELECT mq_drop_queue('ddl_zero');
SELECT mq_drop_queue('ddl_zero');
\echo :SQLSTATE
SELECT mq_drop_queue('ddl_zero', if_exists => true);
SELECT count(*) FROM mq_queues WHERE queue = 'ddl_zero';
SELECT mq_send('ddl_zero', '1') AS id \gset
\echo :SQLSTATE

-- A dropped name can be created again, as a new and empty queue.
SELECT mq_send('ddl_defaults', '"old"') AS id \gset
SELECT mq_drop_queue('ddl_defaults');
SELECT mq_create_queue('ddl_defaults');
SELECT queue, depth, visibility_timeout, dedup_window FROM mq_queues WHERE queue = 'ddl_defaults';

-- DDL is transactional: a rolled-back create leaves nothing, a rolled-back
-- drop leaves the queue and its messages.
BEGIN;
SELECT mq_create_queue('ddl_rolled_back');
SELECT count(*) FROM mq_queues WHERE queue = 'ddl_rolled_back';
ROLLBACK;
SELECT count(*) FROM mq_queues WHERE queue = 'ddl_rolled_back';
SELECT mq_send('ddl_options', '"kept"') AS id \gset
BEGIN;
SELECT mq_drop_queue('ddl_options');
ROLLBACK;
SELECT body FROM mq_peek('ddl_options');
BEGIN;
SELECT mq_alter_queue('ddl_options', visibility_timeout => '1 hour');
ROLLBACK;
SELECT queue, visibility_timeout FROM mq_queues WHERE queue = 'ddl_options';

-- Clean up.
SELECT mq_drop_queue(queue) FROM mq_queues WHERE queue IN
  ('ddl_defaults', 'ddl_options', 'Ddl_Case', 'ddl_case', 'DDL_CASE',
   'ddl.name-with_all-0123456789', repeat('x', 44) || '_48c')
 ORDER BY queue COLLATE "C";
SELECT count(*) - :tables_before AS tables_left
  FROM pg_class
 WHERE relnamespace = 'mq'::regnamespace AND relkind = 'r' AND relname ~ '^q_\d+$';
SELECT count(*) AS queues_left FROM mq_queues;
