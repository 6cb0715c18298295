-- Bad input that once broke a queue later (SPEC sections 2, 3, 4): an
-- interval too large to add to now() is refused where it is given (22023),
-- never stored to fail every later read, send or worker round with 22008;
-- a huge wait is cut to queue.max_wait, not overflowed; routing keys and
-- patterns longer than 255 bytes are 22023 before they are copied; the
-- dead-letter time is ISO 8601 in UTC whatever the session's settings.
\set VERBOSITY sqlstate

-- Options, at create time ...
SELECT mq_create_queue('lim_q', visibility_timeout => '1000000 years');
SELECT mq_create_queue('lim_q', message_ttl => '1000000 years');
SELECT mq_create_queue('lim_q', dedup_window => '1000000 years');
SELECT mq_create_queue('lim_q', dedup_window => '100000000 days');
SELECT mq_create_queue('lim_q', visibility_timeout => '9223372036854 seconds');
SELECT mq_create_topic('lim_t', dedup_window => '1000000 years');
SELECT mq_create_stream('lim_s', max_age => '1000000 years');
SELECT mq_create_stream('lim_s', dedup_window => '1000000 years');
SELECT count(*) AS created FROM mq_queues WHERE queue LIKE 'lim\_%';
-- ... and at alter time; up to 10 000 years is fine.
SELECT mq_create_queue('lim_q', visibility_timeout => '10000 years', message_ttl => '10000 years',
                       dedup_window => '10000 years', max_deliveries => 1);
SELECT mq_alter_queue('lim_q', visibility_timeout => '10001 years');
SELECT mq_alter_queue('lim_q', message_ttl => '1000000 years');
SELECT mq_alter_queue('lim_q', dedup_window => '1000000 years');
SELECT mq_create_stream('lim_s', max_age => '10000 years', dedup_window => '10000 years');
SELECT mq_alter_stream('lim_s', max_age => '1000000 years');
SELECT mq_alter_stream('lim_s', dedup_window => '1000000 years');
SELECT visibility_timeout, message_ttl, dedup_window FROM mq_queues WHERE queue = 'lim_q';
SELECT DISTINCT max_age, dedup_window FROM mq_streams WHERE stream = 'lim_s';

-- The queue still works with its longest settings: a duplicate send, a
-- read, an ack.
SELECT mq_send('lim_q', '"a"', idempotency_key => 'k') = mq_send('lim_q', '"b"', idempotency_key => 'k') AS duplicate;
SELECT body, mq_ack('lim_q', receipt) AS acked FROM mq_read('lim_q');
SELECT mq_append('lim_s', '"r"', idempotency_key => 'k') = mq_append('lim_s', '"r2"', idempotency_key => 'k') AS duplicate;

-- Call time: delay, vt, nack delay, extend.
SELECT mq_send('lim_q', '{}', delay => '1000000 years');
SELECT mq_send_batch('lim_q', ARRAY['{}'::jsonb], delay => '1000000 years');
SELECT mq_send('lim_q', '"c"') > 0 AS sent;
SELECT count(*) FROM mq_read('lim_q', vt => '1000000 years');
SELECT mq_nack('lim_q', receipt, delay => '1000000 years') FROM mq_read('lim_q');
SELECT mq_send('lim_q', '"d"') > 0 AS sent;
SELECT mq_extend('lim_q', receipt, vt => '1000000 years') FROM mq_read('lim_q');
SELECT mq_purge('lim_q') >= 0 AS purged;

-- A wait of 300 000 years is cut to queue.max_wait: it sleeps (and is
-- stopped here by statement_timeout) instead of returning at once.
SET statement_timeout = '300ms';
SELECT count(*) FROM mq_read('lim_q', wait => '300000 years');
SELECT mq_create_group('lim_s', 'g');
SELECT count(*) FROM mq_consume('lim_s', 'g', 100);
SELECT count(*) FROM mq_consume('lim_s', 'g', wait => '300000 years');
RESET statement_timeout;

-- Routing keys and patterns: at most 255 bytes, told before any copy.
SELECT mq_create_topic('lim_t');
SELECT mq_subscribe('lim_t', 'lim_q', repeat('a', 255));
SELECT mq_subscribe('lim_t', 'lim_q', repeat('a', 256));
SELECT mq_unsubscribe('lim_t', 'lim_q', repeat('a', 256));
SELECT mq_publish('lim_t', repeat('a', 255), '{}');
SELECT mq_publish('lim_t', repeat('a', 256), '{}');
SELECT mq_publish('lim_t', repeat('a', 300 * 1024 * 1024), '{}');
SELECT mq_subscribe('lim_t', 'lim_q', repeat('a', 300 * 1024 * 1024));
\set VERBOSITY default
SELECT mq_publish('lim_t', repeat('a', 1000), '{}');
SELECT mq_unsubscribe('lim_t', 'lim_q') AS unsubscribed;
SELECT mq_purge('lim_q') AS purged;

-- The dead letter's "at": ISO 8601, UTC, microseconds, whatever DateStyle
-- and TimeZone the acting session has.
SELECT mq_create_queue('lim_dlq');
SELECT mq_alter_queue('lim_q', dead_letter_queue => 'lim_dlq');
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kolkata';
SELECT mq_send('lim_q', '"dead"') > 0 AS sent;
SELECT mq_nack('lim_q', receipt) FROM mq_read('lim_q');
RESET DateStyle;
SET TimeZone = 'America/New_York';
SELECT mq_send('lim_q', '"dead too"') > 0 AS sent;
SELECT mq_nack('lim_q', receipt) FROM mq_read('lim_q');
RESET TimeZone;
SELECT body,
       headers->'mq_dead_letter'->>'at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS iso_utc,
       (headers->'mq_dead_letter'->>'at')::timestamptz BETWEEN now() - interval '1 minute' AND clock_timestamp() AS right_time
  FROM mq_peek('lim_dlq') ORDER BY id;

SELECT mq_drop_topic('lim_t');
SELECT mq_drop_queue('lim_q');
SELECT mq_drop_queue('lim_dlq');
SELECT mq_drop_stream('lim_s');
