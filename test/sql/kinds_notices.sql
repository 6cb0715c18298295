--
-- Wrong kinds (42809 naming the kind), if_not_exists with different
-- options (a NOTICE naming them), mq_ack with a parameter sent without a
-- type, a message id given as a receipt, and stats_reset.
--
SELECT mq_create_queue('kn_q');
SELECT mq_create_topic('kn_t');
SELECT mq_create_stream('kn_s', partitions => 2);

-- A name of another kind: 42809, naming what it is.
SELECT mq_purge('kn_t');
\echo :SQLSTATE
SELECT mq_peek('kn_s');
\echo :SQLSTATE
SELECT mq_send('kn_t', '{}');
\echo :SQLSTATE
SELECT * FROM mq_read('kn_s');
\echo :SQLSTATE
SELECT mq_publish('kn_q', 'k', '{}');
\echo :SQLSTATE
SELECT * FROM mq_append('kn_q', '{}');
\echo :SQLSTATE
SELECT mq_create_group('kn_t', 'g');
\echo :SQLSTATE
SELECT mq_alter_queue('kn_s', visibility_timeout => '1 minute');
\echo :SQLSTATE
SELECT mq_stats_reset('kn_t');
\echo :SQLSTATE
SELECT mq_subscribe('kn_t', 'kn_s');
\echo :SQLSTATE
SELECT mq_create_queue('kn_q2', dead_letter_queue => 'kn_t');
\echo :SQLSTATE
-- Dropping with if_exists a name that is of another kind is an error too,
-- as DROP TABLE IF EXISTS on a view is.
SELECT mq_drop_queue('kn_s', if_exists => true);
\echo :SQLSTATE
SELECT mq_drop_stream('kn_q', if_exists => true);
\echo :SQLSTATE
SELECT mq_drop_topic('kn_q', if_exists => true);
\echo :SQLSTATE
-- A name that is nothing: 42704, and if_exists skips it.
SELECT mq_purge('kn_none');
\echo :SQLSTATE
SELECT mq_drop_queue('kn_none', if_exists => true);
-- Nothing was dropped.
SELECT object, kind FROM mq_grants WHERE object LIKE 'kn\_%' ORDER BY 1;

-- if_not_exists: the same options, a plain notice; others, a notice naming
-- each option that differs, and nothing changes.
SELECT mq_create_queue('kn_q', if_not_exists => true);
SELECT mq_create_queue('kn_dlq');
SELECT mq_create_queue('kn_q', visibility_timeout => '1 minute', max_deliveries => 3,
                       dead_letter_queue => 'kn_dlq', if_not_exists => true);
SELECT queue, visibility_timeout, max_deliveries, dead_letter_queue
  FROM mq_queues WHERE queue = 'kn_q';
SELECT mq_alter_queue('kn_q', visibility_timeout => '1 minute', max_deliveries => 3,
                      dead_letter_queue => 'kn_dlq');
SELECT mq_create_queue('kn_q', visibility_timeout => '60 seconds', max_deliveries => 3,
                       dead_letter_queue => 'kn_dlq', if_not_exists => true);
SELECT mq_create_stream('kn_s', partitions => 2, if_not_exists => true);
SELECT mq_create_stream('kn_s', partitions => 4, max_age => '1 day', if_not_exists => true);
SELECT mq_create_topic('kn_t', if_not_exists => true);
SELECT mq_create_topic('kn_t', dedup_window => '1 hour', if_not_exists => true);
-- Another kind under the name is still 42710.
SELECT mq_create_topic('kn_q', if_not_exists => true);
\echo :SQLSTATE

-- mq_ack with a parameter sent without a type (as node-postgres sends it)
-- resolves to the single-receipt form.
SELECT mq_send('kn_q', '{"n": 1}') AS id \gset
SELECT receipt FROM mq_read('kn_q') \gset
PREPARE kn_ack AS SELECT mq_ack('kn_q', $1);
EXECUTE kn_ack(:'receipt');
\set VERBOSITY sqlstate
EXECUTE kn_ack(:'receipt');
\set VERBOSITY default
PREPARE kn_ack_lax AS SELECT mq_ack('kn_q', $1, false);
EXECUTE kn_ack_lax(:'receipt');
SELECT mq_ack('kn_q', 'twelve');
\echo :SQLSTATE
SELECT mq_ack('kn_q', '{1,2}');
\echo :SQLSTATE
SELECT mq_ack('kn_q', NULL);
\echo :SQLSTATE
-- Typed arguments keep their forms.
SELECT mq_ack('kn_q', 1::bigint, false), mq_ack('kn_q', 1, false),
       mq_ack('kn_q', ARRAY[1, 2], false), mq_ack('kn_q', '{1,2}'::bigint[], false);

-- A message id where a receipt belongs: a hint says so.
SELECT mq_send('kn_q', '{"n": 2}') AS id \gset
SELECT count(*) FROM mq_read('kn_q');
SELECT mq_ack('kn_q', :id);
\echo :SQLSTATE
SELECT mq_nack('kn_q', :id);
\echo :SQLSTATE

-- stats_reset: when the server's counters started, until a reset.
SELECT stats_reset >= pg_postmaster_start_time() - interval '1 second'
       AND stats_reset <= now() AS since_start
  FROM mq_stats WHERE queue = 'kn_s';
SELECT clock_timestamp() AS before_reset \gset
SELECT mq_stats_reset('kn_s');
SELECT stats_reset >= :'before_reset' AND stats_reset <= clock_timestamp() AS reset_now
  FROM mq_stats WHERE queue = 'kn_s';
-- A queue not used since the server started shows the same start.
SELECT count(DISTINCT stats_reset) AS one_start FROM mq_stats WHERE queue IN ('kn_q', 'kn_dlq');

SELECT mq_drop_queue('kn_q');
SELECT mq_drop_queue('kn_dlq');
SELECT mq_drop_topic('kn_t');
SELECT mq_drop_stream('kn_s');
