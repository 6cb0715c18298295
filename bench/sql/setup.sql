-- Objects the benchmark needs, created once in a fresh database.
--
--   queue 'q'   the extension's queue (default options: 30 s visibility timeout)
--   raw_q       the same work by hand: one table, a bigserial key, no index on vt
--   PgQ 'pq'    PgQ's queue (events only; no ticker or consumer is needed to insert)
--   topic 'orders' with queues f1..f10 subscribed ('order.#'): the fan-out
--               workload, against 10 mq_send calls to f1..f10 in one transaction

CREATE EXTENSION queue;
CREATE EXTENSION pgq;

CREATE TABLE raw_q (
    id          bigserial PRIMARY KEY,
    vt          timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_ct     int NOT NULL DEFAULT 0,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    headers     jsonb,
    body        jsonb NOT NULL
);

CREATE SCHEMA bench;

-- The message body every workload sends: about 100 bytes of JSON.
CREATE FUNCTION bench.body(n bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object('order', n, 'customer', 'c-000042', 'sku', 'SKU-12345-XL',
                          'qty', 3, 'price', 19.99, 'note', 'gift');


-- The fan-out queues and their topic, made afresh (reset.sql too).
CREATE FUNCTION bench.fanout_reset() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mq_drop_topic('orders', if_exists => true);
    PERFORM mq_drop_queue('f' || i, if_exists => true) FROM generate_series(1, 10) AS i;
    PERFORM mq_create_topic('orders');
    PERFORM mq_create_queue('f' || i) FROM generate_series(1, 10) AS i;
    PERFORM mq_subscribe('orders', 'f' || i, 'order.#') FROM generate_series(1, 10) AS i;
END
$$;

SELECT mq_create_queue('q');
SELECT pgq.create_queue('pq');
-- (Builds without topics, in an A/B against an older commit, skip it.)
SELECT bench.fanout_reset() WHERE EXISTS (SELECT FROM pg_proc WHERE proname = 'mq_create_topic');

-- Streams (builds without streams, in an A/B against an older commit, skip
-- them): stream 's' with one partition and a group 'g', a plain table
-- raw_log for appends by hand, and PgQ queue 'pc' with consumer 'c' for the
-- consume workload.
CREATE TABLE raw_log (
    id           bigserial PRIMARY KEY,
    key          text,
    appended_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    headers      jsonb,
    body         jsonb NOT NULL
);

CREATE FUNCTION bench.streams_reset() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE raw_log RESTART IDENTITY;
    PERFORM mq_drop_stream('s', if_exists => true);
    PERFORM mq_create_stream('s');
    PERFORM mq_create_group('s', 'g');
    PERFORM pgq.unregister_consumer('pc', 'c') FROM pgq.queue WHERE queue_name = 'pc';
    PERFORM pgq.drop_queue('pc', true) FROM pgq.queue WHERE queue_name = 'pc';
    PERFORM pgq.create_queue('pc');
    PERFORM pgq.set_queue_config('pc', 'ticker_max_count', '1000');
    PERFORM pgq.register_consumer('pc', 'c');
END
$$;
SELECT bench.streams_reset() WHERE EXISTS (SELECT FROM pg_proc WHERE proname = 'mq_create_stream');

-- Messages stored (or, for the consume workloads, left to consume) by one
-- contender: the queue's depth (ready + leased + delayed), the rows of
-- raw_q, the events in PgQ's tables, and so on.
CREATE FUNCTION bench.depth(contender text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    pfx text;
BEGIN
    CASE contender
    WHEN 'queue' THEN
        SELECT depth INTO n FROM mq_queues WHERE queue = 'q';
    WHEN 'raw' THEN
        SELECT count(*) INTO n FROM raw_q;
    WHEN 'fanout' THEN
        SELECT sum(depth) INTO n FROM mq_queues WHERE queue ~ '^f[0-9]+$';
    WHEN 'pgq' THEN
        SELECT queue_data_pfx INTO pfx FROM pgq.queue WHERE queue_name = 'pq';
        EXECUTE format('SELECT count(*) FROM %s', pfx) INTO n;
    WHEN 'stream' THEN              -- records appended to s
        SELECT next_position INTO n FROM mq_streams WHERE stream = 's';
    WHEN 'raw_log' THEN
        SELECT count(*) INTO n FROM raw_log;
    WHEN 'stream_unread' THEN       -- records group g has yet to consume
        SELECT sum(lag) INTO n FROM mq_groups WHERE stream = 's' AND consumer_group = 'g';
    WHEN 'pgq_unread' THEN          -- events consumer c has yet to take
        SELECT pending_events INTO n FROM pgq.get_consumer_info('pc', 'c');
    END CASE;
    RETURN n;
END
$$;
