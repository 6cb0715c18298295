--
-- rate_limit (SPEC section 3a): deliveries per second across all readers,
-- a token bucket in shared memory with a burst of one second's worth (at
-- least one): reads and pops beyond it get fewer messages or none, and a
-- long poll sleeps until the next token is due.
--

-- The option: shown, changed, reset, checked.
SELECT mq_create_queue('rate_slow', rate_limit => 0.001);
SELECT queue, rate_limit FROM mq_queues WHERE queue = 'rate_slow';
SELECT mq_alter_queue('rate_slow', rate_limit => 5);
SELECT rate_limit FROM mq_queues WHERE queue = 'rate_slow';
SELECT mq_alter_queue('rate_slow', reset => '{rate_limit}');
SELECT rate_limit FROM mq_queues WHERE queue = 'rate_slow';
SELECT mq_alter_queue('rate_slow', rate_limit => 0.001);
\set VERBOSITY sqlstate
SELECT mq_create_queue('rate_bad', rate_limit => 0);
SELECT mq_create_queue('rate_bad', rate_limit => -1);
SELECT mq_create_queue('rate_bad', rate_limit => 'NaN');
SELECT mq_create_queue('rate_bad', rate_limit => 'Infinity');
SELECT mq_alter_queue('rate_slow', rate_limit => 0);
\set VERBOSITY default

-- One delivery per 1000 s, a burst of one: the first read gets one message
-- of five, then nothing -- reads and pops alike -- though four are ready.
SELECT count(*) FROM mq_send_batch('rate_slow', array_fill('"m"'::jsonb, ARRAY[5]));
SELECT count(*) FROM mq_read('rate_slow', 5);
SELECT count(*) FROM mq_read('rate_slow', 5);
SELECT count(*) FROM mq_pop('rate_slow', 5);
SELECT depth, ready, inflight FROM mq_queues WHERE queue = 'rate_slow';
-- A peek delivers nothing and is not limited.
SELECT count(*) FROM mq_peek('rate_slow', 5);

-- A read that finds nothing to deliver keeps the token for the next one.
SELECT mq_create_queue('rate_empty', rate_limit => 0.001);
SELECT count(*) FROM mq_read('rate_empty', 5);
SELECT mq_send('rate_empty', '"later"') AS id \gset
SELECT body FROM mq_read('rate_empty', 5);
SELECT count(*) FROM mq_read('rate_empty', 5);

-- One every two seconds: a read of ten gets one; a long poll then sleeps
-- until the next token is due, not for its whole wait.
SELECT mq_create_queue('rate_two', rate_limit => 0.5);
SELECT count(*) FROM mq_send_batch('rate_two', array_fill('"t"'::jsonb, ARRAY[10]));
SELECT count(*) FROM mq_read('rate_two', 10);
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq_read('rate_two', 10, wait => '10 seconds');
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '0.5 seconds' AND interval '5 seconds'
       AS slept_until_the_token;

SELECT mq_drop_queue(q) FROM unnest(ARRAY['rate_slow', 'rate_empty', 'rate_two']) AS q;
