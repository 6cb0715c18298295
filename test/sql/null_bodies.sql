--
-- NULL bodies: refused by default (22023, nothing sent); accepted by a
-- queue created or altered with allow_null_bodies, and carried as NULL by
-- every path a message takes.  (The queues' names are on one shard of a
-- three-shard proxy, which runs this file too.)
--
\set VERBOSITY default
SELECT mq_create_queue('nb_plain');
SELECT mq_create_queue('nb_dlq');
SELECT mq_create_queue('nb_null', allow_null_bodies => true, max_deliveries => 1,
                       dead_letter_queue => 'nb_dlq');
SELECT queue, allow_null_bodies FROM mq_queues WHERE queue LIKE 'nb_%' ORDER BY queue;

-- By default a NULL body is refused, one or in a batch, and nothing is sent.
SELECT mq_send('nb_plain', NULL);
\echo :SQLSTATE
SELECT count(*) FROM mq_send_batch('nb_plain', ARRAY['1', NULL]::jsonb[]);
\echo :SQLSTATE
SELECT depth FROM mq_queues WHERE queue = 'nb_plain';
-- Streams and topics have no such option: NULL stays refused there.
SELECT mq_create_topic('nb_topic');
SELECT mq_subscribe('nb_topic', 'nb_null');
SELECT mq_publish('nb_topic', 'k', NULL);
\echo :SQLSTATE

-- Accepted: a NULL body is a JSON null nowhere; it reads back as SQL NULL.
SELECT mq_send('nb_null', NULL) AS id1 \gset
SELECT mq_send('nb_null', 'null') AS id2 \gset
SELECT count(*) FROM mq_send_batch('nb_null', ARRAY[NULL, '{"n": 3}', NULL]::jsonb[],
                                   headers => ARRAY['{"h": 1}', NULL, NULL]::jsonb[]);
SELECT id, body IS NULL AS sql_null, body, headers FROM mq_peek('nb_null', 10) ORDER BY id;
SELECT id, body IS NULL AS sql_null FROM mq_inspect('nb_null') ORDER BY id;
SELECT depth FROM mq_queues WHERE queue = 'nb_null';

-- A filtered read never matches a NULL body, not even with {}.
SELECT id FROM mq_read('nb_null', 10, '1 hour', filter => '{}') ORDER BY id;

-- Read, then dead-letter (max_deliveries 1): the NULL body goes to nb_dlq,
-- which does not accept NULL sends but holds what is moved to it.
SELECT mq_create_queue('nb_q2', allow_null_bodies => true, visibility_timeout => '0',
                       max_deliveries => 1, dead_letter_queue => 'nb_dlq');
SELECT mq_send('nb_q2', NULL) AS dead_id \gset
SELECT id, body IS NULL AS sql_null, deliveries FROM mq_read('nb_q2', 1, '0');
SELECT count(*) FROM mq_read('nb_q2', 1);
SELECT body IS NULL AS sql_null, headers ? 'mq_dead_letter' AS dead_lettered
  FROM mq_peek('nb_dlq');
-- Redriven back to its queue, still NULL.
SELECT mq_redrive('nb_dlq');
SELECT body IS NULL AS sql_null FROM mq_peek('nb_q2');

-- mq_move to a queue that refuses NULL sends carries the NULL body.
SELECT mq_move('nb_q2', ARRAY(SELECT id FROM mq_peek('nb_q2')), 'nb_plain');
SELECT body IS NULL AS sql_null FROM mq_peek('nb_plain');

-- Read, pop, remove: all give NULL.
SELECT id, body IS NULL AS sql_null FROM mq_read('nb_null', 1, '1 hour');
SELECT id, body IS NULL AS sql_null FROM mq_pop('nb_null', 1);
SELECT id, body IS NULL AS sql_null FROM mq_remove('nb_null', ARRAY[5]::bigint[]);
SELECT id, body IS NULL AS sql_null FROM mq_inspect('nb_null') ORDER BY id;

-- The option can be turned off: NULL sends are refused again, the stored
-- ones stay.  if_not_exists names the option when it differs.
SELECT mq_alter_queue('nb_null', allow_null_bodies => false);
SELECT mq_send('nb_null', NULL);
\echo :SQLSTATE
SELECT mq_create_queue('nb_null', allow_null_bodies => true, if_not_exists => true);
SELECT count(*) FROM mq_inspect('nb_null') WHERE body IS NULL;
SELECT mq_alter_queue('nb_null', allow_null_bodies => true);
SELECT mq_send('nb_null', NULL) > 0 AS sent;
SELECT mq_alter_queue('nb_null', reset => ARRAY['allow_null_bodies']);
SELECT allow_null_bodies FROM mq_queues WHERE queue = 'nb_null';
SELECT mq_alter_queue('nb_null', allow_null_bodies => NULL);
SELECT allow_null_bodies FROM mq_queues WHERE queue = 'nb_null';

SELECT mq_unsubscribe('nb_topic', 'nb_null');
SELECT mq_drop_topic('nb_topic');
SELECT mq_drop_queue(q) FROM unnest(ARRAY['nb_null', 'nb_q2', 'nb_plain', 'nb_dlq']) q;
