--
-- Retry policies (SPEC section 3a): a failed delivery -- a nack without a
-- delay, an expired lease, a rolled-back read -- makes the message ready
-- again after retry_delay x 1 (fixed), x n (linear) or x 2^(n-1)
-- (exponential), n its deliveries, at most retry_max_delay, plus up to
-- retry_jitter of that at random.  An explicit nack delay overrides it.
--

-- The options: given, shown, changed, reset, checked.
SELECT mq_create_queue('retry_fixed', retry_delay => '1 hour', retry_backoff => 'fixed');
SELECT mq_create_queue('retry_exp', retry_delay => '1 minute', retry_max_delay => '3 minutes');
SELECT mq_create_queue('retry_none');
SELECT queue, retry_delay, retry_backoff, retry_max_delay, retry_jitter
  FROM mq_queues WHERE queue LIKE 'retry\_%' ORDER BY queue;
SELECT mq_alter_queue('retry_none', retry_delay => '5 seconds', retry_backoff => 'linear',
                      retry_max_delay => '1 minute', retry_jitter => 0.5);
SELECT retry_delay, retry_backoff, retry_max_delay, retry_jitter FROM mq_queues WHERE queue = 'retry_none';
SELECT mq_alter_queue('retry_none', reset => '{retry_delay, retry_backoff, retry_max_delay, retry_jitter}');
SELECT retry_delay, retry_backoff, retry_max_delay, retry_jitter FROM mq_queues WHERE queue = 'retry_none';
SELECT mq_create_queue('retry_exp', retry_delay => '2 minutes', if_not_exists => true);
\set VERBOSITY sqlstate
SELECT mq_create_queue('retry_bad', retry_delay => '-1 second');
SELECT mq_create_queue('retry_bad', retry_backoff => 'quadratic');
SELECT mq_create_queue('retry_bad', retry_backoff => NULL);
SELECT mq_create_queue('retry_bad', retry_max_delay => NULL);
SELECT mq_create_queue('retry_bad', retry_jitter => 1.5);
SELECT mq_create_queue('retry_bad', retry_jitter => -0.1);
SELECT mq_create_queue('retry_bad', retry_jitter => 'NaN');
SELECT mq_alter_queue('retry_none', retry_backoff => 'never');
\set VERBOSITY default
SELECT count(*) FROM mq_queues WHERE queue = 'retry_bad';

-- A nack without a delay follows the policy: fixed, one hour each time.
SELECT mq_send('retry_fixed', '"f"') AS id \gset
SELECT receipt AS r FROM mq_read('retry_fixed') \gset
SELECT mq_nack('retry_fixed', :r);
SELECT count(*) AS readable FROM mq_read('retry_fixed');
SELECT state, visible_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes' AS in_an_hour
  FROM mq_inspect('retry_fixed');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'retry_fixed';
-- An explicit delay overrides it, also a delay of zero.
SELECT mq_purge('retry_fixed');
SELECT mq_send('retry_fixed', '"now"') AS id \gset
SELECT receipt AS r FROM mq_read('retry_fixed') \gset
SELECT mq_nack('retry_fixed', :r, delay => '0');
SELECT body FROM mq_read('retry_fixed');
SELECT mq_purge('retry_fixed');

-- Each backoff, in whole seconds from the nack: a read, then a nack
-- without a delay, and the delay the message got.
CREATE FUNCTION pg_temp.read_nack(q text, OUT deliveries int, OUT delay numeric)
LANGUAGE plpgsql AS $$
DECLARE
    r bigint;
    m bigint;
    t0 timestamptz;
BEGIN
    SELECT receipt, id INTO r, m FROM mq_read(q);
    t0 := clock_timestamp();
    PERFORM mq_nack(q, r);
    SELECT i.deliveries, round(extract(epoch FROM i.visible_at - t0)::numeric, 0)
      INTO deliveries, delay FROM mq_inspect(q) i WHERE i.id = m;
END $$;

-- Exponential (the default): 1 s after the first delivery, 2 s after the
-- second, then at most retry_max_delay, 3 s.
SELECT mq_drop_queue('retry_exp');
SELECT mq_create_queue('retry_exp', retry_delay => '1 second', retry_max_delay => '3 seconds');
SELECT mq_send('retry_exp', '"e"') AS id \gset
SELECT * FROM pg_temp.read_nack('retry_exp');
SELECT pg_sleep(1.2);
SELECT * FROM pg_temp.read_nack('retry_exp');
SELECT pg_sleep(2.2);
SELECT * FROM pg_temp.read_nack('retry_exp');
-- Linear: 1 s, then 2 s.
SELECT mq_alter_queue('retry_none', retry_delay => '1 second', retry_backoff => 'linear');
SELECT mq_send('retry_none', '"l"') AS id \gset
SELECT * FROM pg_temp.read_nack('retry_none');
SELECT pg_sleep(1.2);
SELECT * FROM pg_temp.read_nack('retry_none');
SELECT mq_purge('retry_none');
-- Jitter adds up to that share of the delay: 10 s to 15 s here.
SELECT mq_alter_queue('retry_none', retry_delay => '10 seconds', retry_backoff => 'fixed',
                      retry_jitter => 0.5);
SELECT count(*) FROM mq_send_batch('retry_none', array_fill('"j"'::jsonb, ARRAY[20]));
SELECT clock_timestamp() AS before_nack \gset
SELECT count(*) FROM mq_read('retry_none', 20) AS r, mq_nack('retry_none', r.receipt);
SELECT min(visible_at) >= :'before_nack'::timestamptz + interval '10 seconds' AS at_least_the_delay,
       max(visible_at) <= clock_timestamp() + interval '15 seconds' AS at_most_half_more,
       count(DISTINCT visible_at) > 1 AS spread
  FROM mq_inspect('retry_none');
SELECT mq_purge('retry_none');

-- An expired lease: the message waits out the retry delay after the lease
-- ended, counted in flight meanwhile; its receipt can still ack it.
SELECT mq_send('retry_fixed', '"expired"') AS id \gset
SELECT receipt AS r FROM mq_read('retry_fixed', vt => '0') \gset
SELECT count(*) AS readable FROM mq_read('retry_fixed');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'retry_fixed';
SELECT state FROM mq_inspect('retry_fixed');
SELECT mq_ack('retry_fixed', :r);
SELECT depth FROM mq_queues WHERE queue = 'retry_fixed';

-- A rolled-back read, or one in a rolled-back subtransaction: the same,
-- but its receipt is gone with it.
SELECT mq_send('retry_fixed', '"rolled back"') AS id \gset
BEGIN;
SELECT receipt AS r FROM mq_read('retry_fixed') \gset
ROLLBACK;
SELECT count(*) AS readable FROM mq_read('retry_fixed');
SELECT mq_ack('retry_fixed', :r, strict => false) AS acked;
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'retry_fixed';
SELECT mq_purge('retry_fixed');
SELECT mq_send('retry_fixed', '"savepoint"') AS id \gset
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM mq_read('retry_fixed');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS readable FROM mq_read('retry_fixed');
COMMIT;
SELECT mq_purge('retry_fixed');
-- Without a policy a rolled-back read leaves the message ready at once.
SELECT mq_alter_queue('retry_none', reset => '{retry_delay}');
SELECT mq_send('retry_none', '"at once"') AS id \gset
BEGIN;
SELECT count(*) FROM mq_read('retry_none');
ROLLBACK;
SELECT body FROM mq_read('retry_none');

-- max_deliveries still counts every delivery: the nack of the last allowed
-- delivery dead-letters, whatever the policy.
SELECT mq_create_queue('retry_dlq');
SELECT mq_create_queue('retry_dead', retry_delay => '0.1 seconds', retry_backoff => 'fixed',
                       max_deliveries => 2, dead_letter_queue => 'retry_dlq');
SELECT mq_send('retry_dead', '"poison"') AS id \gset
SELECT * FROM pg_temp.read_nack('retry_dead');
SELECT pg_sleep(0.3);
SELECT count(*) FROM mq_read('retry_dead') AS r, mq_nack('retry_dead', r.receipt);
SELECT queue, depth FROM mq_queues WHERE queue IN ('retry_dead', 'retry_dlq') ORDER BY queue;

SELECT mq_drop_queue(q) FROM unnest(ARRAY['retry_fixed', 'retry_exp', 'retry_none', 'retry_dead', 'retry_dlq']) AS q;
