--
-- The mq_queues view: one row per queue with its figures (depth = ready +
-- inflight + delayed, oldest_ready_age) and its options.
--

-- Its columns.
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute
 WHERE attrelid = 'mq_queues'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;

SELECT mq_create_queue('view_a');
SELECT mq_create_queue('view_b', visibility_timeout => '1 minute');

-- Empty queues: zero everywhere, no oldest ready message.
SELECT queue, depth, ready, inflight, delayed, oldest_ready_age, visibility_timeout
  FROM mq_queues WHERE queue LIKE 'view\_%' ORDER BY queue;

-- Ready, leased and delayed messages.
SELECT count(*) FROM mq_send_batch('view_a', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 6) AS i));
SELECT count(*) FROM mq_send_batch('view_a', ARRAY['"d1"', '"d2"']::jsonb[], delay => '1 hour');
SELECT count(*) FROM mq_read('view_a', 2, vt => '1 hour');
SELECT mq_send('view_b', '"b"') AS id \gset
SELECT queue, depth, ready, inflight, delayed FROM mq_queues WHERE queue LIKE 'view\_%' ORDER BY queue;

-- A lease that ended counts as ready again, not as inflight.
SELECT count(*) FROM mq_read('view_a', 1, vt => '0');
SELECT queue, depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';

-- Acks, nacks and pops move the figures.
SELECT receipt AS r FROM mq_read('view_a', vt => '1 hour') \gset
SELECT mq_ack('view_a', :r);
SELECT receipt AS r FROM mq_read('view_a', vt => '1 hour') \gset
SELECT mq_nack('view_a', :r, delay => '1 hour');
SELECT count(*) FROM mq_pop('view_a');
SELECT queue, depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';
SELECT mq_purge('view_a');

-- oldest_ready_age: the age of the oldest ready message (not of a leased
-- or delayed one).
SELECT mq_send('view_a', '"oldest, leased"') AS id \gset
SELECT mq_send('view_a', '"old, delayed"', delay => '1 hour') AS id \gset
SELECT pg_sleep(0.3);
SELECT mq_send('view_a', '"oldest ready"') AS ready_id \gset
SELECT mq_send('view_a', '"newest"') AS id \gset
SELECT body FROM mq_read('view_a', vt => '1 hour');
SELECT enqueued_at AS ready_enqueued_at FROM mq_peek('view_a') WHERE id = :ready_id \gset
SELECT pg_sleep(0.2);
SELECT clock_timestamp() AS before_view \gset
SELECT ready,
       oldest_ready_age >= :'before_view'::timestamptz - :'ready_enqueued_at'::timestamptz AS age_lower,
       oldest_ready_age <= clock_timestamp() - :'ready_enqueued_at'::timestamptz AS age_upper,
       oldest_ready_age >= interval '0.2 seconds' AS at_least_slept
  FROM mq_queues WHERE queue = 'view_a';
-- With nothing ready, there is no age.
SELECT count(*) FROM mq_read('view_a', 10, vt => '1 hour');
SELECT depth, ready, inflight, delayed, oldest_ready_age FROM mq_queues WHERE queue = 'view_a';

SELECT mq_purge('view_a');

-- Delayed messages: sent or nacked with a delay, until their time comes; a
-- nack that only gives a reason delays nothing; a delayed message deleted
-- is gone from the figures.
SELECT count(*) FROM mq_send_batch('view_a', ARRAY['"soon"', '"soon 2"']::jsonb[], delay => '0.3 seconds');
SELECT mq_send('view_a', '"later"', delay => '1 hour') AS later_id \gset
SELECT mq_send('view_a', '"now"') AS id \gset
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';
SELECT pg_sleep(0.4);
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';
SELECT receipt AS r FROM mq_read('view_a', vt => '1 hour') \gset
SELECT mq_nack('view_a', :r, reason => 'only a reason');
SELECT receipt AS r FROM mq_read('view_a', vt => '1 hour') \gset
SELECT mq_nack('view_a', :r, delay => '1 hour');
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';
SELECT mq_delete('view_a', ARRAY[:later_id]::bigint[]);
SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'view_a';
SELECT mq_purge('view_a');

-- The oldest ready message of any priority gives the age: here an old one
-- of low priority behind newer ones of higher priority.
SELECT mq_send('view_a', '"old, low"', priority => 1) AS low_id \gset
SELECT pg_sleep(0.3);
SELECT count(*) FROM mq_send_batch('view_a', ARRAY['"new, high"', '"new, high 2"']::jsonb[], priority => 9);
SELECT mq_send('view_a', '"new, middle"', priority => 5) AS id \gset
SELECT ready, oldest_ready_age >= interval '0.3 seconds' AS age_of_low FROM mq_queues WHERE queue = 'view_a';
-- Once it is deleted, and the high ones are leased, the oldest is the middle one.
SELECT mq_delete('view_a', ARRAY[:low_id]::bigint[]);
SELECT body FROM mq_read('view_a', 2, vt => '1 hour') ORDER BY id;
SELECT ready, inflight, oldest_ready_age < interval '0.3 seconds' AS age_of_middle FROM mq_queues WHERE queue = 'view_a';

-- A dropped queue leaves the view.
SELECT mq_drop_queue('view_a');
SELECT queue FROM mq_queues WHERE queue LIKE 'view\_%' ORDER BY queue;
SELECT mq_drop_queue('view_b');
SELECT count(*) FROM mq_queues WHERE queue LIKE 'view\_%';
