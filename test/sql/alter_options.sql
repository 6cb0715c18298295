--
-- mq_alter_queue sets every option and resets every option to its default;
-- the new values govern the messages already in the queue.
--

-- The options of a queue as one text.
CREATE FUNCTION pg_temp.options(q text) RETURNS text LANGUAGE sql AS $$
    SELECT format('vt=%s max_deliveries=%s dlq=%s ttl=%s max_length=%s overflow=%s max_inflight=%s dedup=%s unlogged=%s',
                  visibility_timeout, max_deliveries, dead_letter_queue, message_ttl,
                  max_length, overflow, max_inflight, dedup_window, unlogged)
      FROM mq_queues WHERE queue = q
$$;

SELECT mq_create_queue('alt_q');
SELECT mq_create_queue('alt_dlq');
SELECT mq_create_queue('alt_dlq2');
SELECT pg_temp.options('alt_q') AS defaults \gset
\echo :defaults

-- Every option at once.
SELECT mq_alter_queue('alt_q', visibility_timeout => '2 minutes', max_deliveries => 3,
                      dead_letter_queue => 'alt_dlq', message_ttl => '1 hour',
                      max_length => 100, overflow => 'drop_oldest', max_inflight => 5,
                      dedup_window => '2 hours', unlogged => true);
SELECT pg_temp.options('alt_q');
-- No option, or every option NULL, changes nothing.
SELECT mq_alter_queue('alt_q');
SELECT mq_alter_queue('alt_q', visibility_timeout => NULL, max_deliveries => NULL,
                      dead_letter_queue => NULL, message_ttl => NULL, max_length => NULL,
                      overflow => NULL, max_inflight => NULL, dedup_window => NULL,
                      unlogged => NULL, reset => NULL);
SELECT pg_temp.options('alt_q');

-- One option at a time: set, then reset; the others stay.
SELECT mq_alter_queue('alt_q', visibility_timeout => '3 minutes');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{visibility_timeout}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', max_deliveries => 7);
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{max_deliveries}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', dead_letter_queue => 'alt_dlq2');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{dead_letter_queue}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', message_ttl => '2 hours');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{message_ttl}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', max_length => 200);
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{max_length}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', overflow => 'reject');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', overflow => 'drop_oldest');
SELECT mq_alter_queue('alt_q', reset => '{overflow}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', max_inflight => 9);
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{max_inflight}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', dedup_window => '0');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{dedup_window}');
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', unlogged => false);
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', unlogged => true);
SELECT mq_alter_queue('alt_q', reset => '{unlogged}');
SELECT pg_temp.options('alt_q') = :'defaults' AS back_to_defaults;

-- Reset of every option at once, with other options set in the same call.
SELECT mq_alter_queue('alt_q', visibility_timeout => '2 minutes', max_deliveries => 3,
                      dead_letter_queue => 'alt_dlq', message_ttl => '1 hour',
                      max_length => 100, overflow => 'drop_oldest', max_inflight => 5,
                      dedup_window => '2 hours', unlogged => true);
SELECT mq_alter_queue('alt_q', max_length => 50,
                      reset => ARRAY['visibility_timeout', 'max_deliveries', 'dead_letter_queue',
                                     'message_ttl', 'overflow', 'max_inflight',
                                     'dedup_window', 'unlogged']);
SELECT pg_temp.options('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{max_length}');
SELECT pg_temp.options('alt_q') = :'defaults' AS back_to_defaults;

-- Failed alterations change nothing: an unknown or own dead-letter queue,
-- an option both set and reset, an invalid value among valid ones.
SELECT mq_alter_queue('alt_q', max_length => 10, dead_letter_queue => 'alt_nowhere');
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', max_length => 10, dead_letter_queue => 'alt_q');
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', max_length => 10, reset => '{max_length}');
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', max_length => 10, max_inflight => 0);
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', max_length => 10, message_ttl => '0');
\echo :SQLSTATE
SELECT pg_temp.options('alt_q') = :'defaults' AS unchanged;

-- The new values apply to the messages already there.

-- visibility_timeout: the default lease of a read.
SELECT mq_send('alt_q', '"vt"') AS id \gset
SELECT mq_alter_queue('alt_q', visibility_timeout => '2 minutes');
SELECT visible_at > clock_timestamp() + interval '110 seconds'
   AND visible_at <= clock_timestamp() + interval '2 minutes' AS two_minute_lease
  FROM mq_read('alt_q');
SELECT mq_purge('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{visibility_timeout}');

-- max_deliveries and dead_letter_queue: a message already delivered twice
-- is used up under max_deliveries 2, and goes to the queue set now.
SELECT mq_send('alt_q', '"delivered twice"') AS id \gset
SELECT count(*) FROM mq_read('alt_q', vt => '0');
SELECT count(*) FROM mq_read('alt_q', vt => '0');
SELECT mq_alter_queue('alt_q', max_deliveries => 2, dead_letter_queue => 'alt_dlq');
SELECT count(*) FROM mq_peek('alt_q');
SELECT count(*) FROM mq_read('alt_q');
SELECT body, headers->'mq_dead_letter'->>'queue' AS dl_queue,
       headers->'mq_dead_letter'->>'reason' AS reason,
       headers->'mq_dead_letter'->'deliveries' AS dl_deliveries
  FROM mq_peek('alt_dlq');
-- A changed dead-letter queue takes the next dead letters.
SELECT mq_alter_queue('alt_q', dead_letter_queue => 'alt_dlq2');
SELECT mq_send('alt_q', '"to dlq2"') AS id \gset
SELECT count(*) FROM mq_read('alt_q', vt => '0');
SELECT count(*) FROM mq_read('alt_q', vt => '0');
SELECT count(*) FROM mq_read('alt_q');
SELECT queue, depth FROM mq_queues WHERE queue IN ('alt_q', 'alt_dlq', 'alt_dlq2') ORDER BY queue;
-- Raised again, the limit lets a message be delivered more often.
-- (Leases are ended with mq_extend only after each change, so that the
-- background worker never finds the message used up in between.)
SELECT mq_send('alt_q', '"raised"') AS id \gset
SELECT count(*) FROM mq_read('alt_q', vt => '0');
SELECT receipt AS r FROM mq_read('alt_q', vt => '1 hour') \gset
SELECT mq_alter_queue('alt_q', max_deliveries => 3);
SELECT mq_extend('alt_q', :r, vt => '0');
SELECT receipt AS r, body, deliveries FROM mq_read('alt_q', vt => '1 hour') \gset
\echo :body :deliveries
-- Reset: no limit any more; the old dead-letter queues can be dropped.
SELECT mq_alter_queue('alt_q', reset => '{max_deliveries, dead_letter_queue}');
SELECT mq_extend('alt_q', :r, vt => '0');
SELECT body, deliveries FROM mq_read('alt_q', vt => '0');
SELECT mq_drop_queue('alt_dlq2');
SELECT mq_purge('alt_q');

-- message_ttl counts from each message's enqueued_at, also for messages
-- sent before it was set.
SELECT mq_send('alt_q', '"sent before the ttl"') AS id \gset
SELECT pg_sleep(0.2);
SELECT mq_alter_queue('alt_q', message_ttl => '0.1 seconds', dead_letter_queue => 'alt_dlq');
SELECT count(*) FROM mq_peek('alt_q');
SELECT count(*) FROM mq_read('alt_q');
SELECT body, headers->'mq_dead_letter'->>'reason' AS reason
  FROM mq_peek('alt_dlq') WHERE body = '"sent before the ttl"';
SELECT mq_alter_queue('alt_q', reset => '{message_ttl, dead_letter_queue}');
SELECT mq_send('alt_q', '"no ttl"') AS id \gset
SELECT pg_sleep(0.2);
SELECT body FROM mq_peek('alt_q');
SELECT mq_purge('alt_q');

-- max_length and overflow: a full queue rejects, then drops its oldest.
SELECT count(*) FROM mq_send_batch('alt_q', ARRAY['1', '2', '3']::jsonb[]);
SELECT mq_alter_queue('alt_q', max_length => 3);
SELECT mq_send('alt_q', '4');
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', overflow => 'drop_oldest');
SELECT mq_send('alt_q', '4') AS id \gset
SELECT body FROM mq_peek('alt_q');
SELECT mq_alter_queue('alt_q', reset => '{overflow}');
SELECT mq_send('alt_q', '5');
\echo :SQLSTATE
SELECT mq_alter_queue('alt_q', reset => '{max_length}');
SELECT mq_send('alt_q', '5') AS id \gset
SELECT depth FROM mq_queues WHERE queue = 'alt_q';
SELECT mq_purge('alt_q');

-- dedup_window: shortened, it ends the window of keys sent before.
SELECT mq_send('alt_q', '"keyed"', idempotency_key => 'alt-k') AS first_id \gset
SELECT mq_send('alt_q', '"keyed"', idempotency_key => 'alt-k') = :first_id AS same_id;
SELECT mq_alter_queue('alt_q', dedup_window => '0');
SELECT mq_send('alt_q', '"keyed"', idempotency_key => 'alt-k') = :first_id AS same_id;
SELECT depth FROM mq_queues WHERE queue = 'alt_q';

-- Clean up.
SELECT mq_drop_queue(q) FROM unnest(ARRAY['alt_q', 'alt_dlq']) AS q;
