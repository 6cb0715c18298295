-- pgmq: pgmq's SQL API (the pgmq 1.5 release) on queue's engine.
--
-- Every function keeps pgmq's name, argument names and types, overloads
-- and result columns, so that code and client libraries written for pgmq
-- call it unchanged.  A pgmq queue is a queue of queue's, named as pgmq
-- names its table (lower case: Orders and orders are one queue), so mq_*
-- reach the same messages.  What differs, and why, is in docs/pgmq.md.

-- The queues, as pgmq lists them: the name given at the first create.
CREATE TABLE pgmq.meta (
    queue_name varchar UNIQUE NOT NULL,
    is_partitioned boolean NOT NULL,
    is_unlogged boolean NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL
);
-- Names that differ only in case are one queue, as pgmq's tables are.
CREATE UNIQUE INDEX meta_queue_lower ON pgmq.meta (lower(queue_name));

GRANT USAGE ON SCHEMA pgmq TO pg_monitor;
GRANT SELECT ON pgmq.meta TO pg_monitor;

CREATE TYPE pgmq.message_record AS (
    msg_id bigint,
    read_ct integer,
    enqueued_at timestamptz,
    vt timestamptz,
    message jsonb,
    headers jsonb
);

CREATE TYPE pgmq.queue_record AS (
    queue_name varchar,
    is_partitioned boolean,
    is_unlogged boolean,
    created_at timestamptz
);

CREATE TYPE pgmq.metrics_result AS (
    queue_name text,
    queue_length bigint,
    newest_msg_age_sec int,
    oldest_msg_age_sec int,
    total_messages bigint,
    scrape_time timestamptz,
    queue_visible_length bigint
);

-- pgmq's rule for names: the characters that could break out of a quoted
-- identifier are refused; the table name is lower case.
CREATE FUNCTION pgmq.format_table_name(queue_name text, prefix text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF queue_name ~ '\$|;|--|''' THEN
        RAISE EXCEPTION 'queue name contains invalid characters: $, ;, --, or \'''
            USING ERRCODE = '22023';
    END IF;
    RETURN lower(prefix || '_' || queue_name);
END
$$;

CREATE FUNCTION pgmq.validate_queue_name(queue_name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF length(queue_name) >= 48 THEN
        RAISE EXCEPTION 'queue name is too long, maximum length is 48 characters'
            USING ERRCODE = '22023';
    END IF;
END
$$;

-- The queue of queue's that a pgmq name stands for.
CREATE FUNCTION pgmq._queue(queue_name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT substr(pgmq.format_table_name(queue_name, 'q'), 3)
$$;

-- A message as pgmq shows it: vt is when it is visible again (the end of
-- its lease, or of its delay).
CREATE FUNCTION pgmq._record(id bigint, deliveries int, enqueued_at timestamptz,
                             visible_at timestamptz, body jsonb, headers jsonb)
RETURNS pgmq.message_record
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(id, deliveries, enqueued_at, visible_at, body, headers)::pgmq.message_record
$$;

-- Every message of a queue, in id order (the view pgmq.q_<name>).
CREATE FUNCTION pgmq._messages(queue text)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql STABLE AS $$
DECLARE
    after bigint := 0;
    n int;
    m record;
BEGIN
    LOOP
        n := 0;
        FOR m IN SELECT * FROM mq_inspect(queue, after_id => after, qty => 10000) LOOP
            n := n + 1;
            after := m.id;
            RETURN NEXT pgmq._record(m.id, m.deliveries, m.enqueued_at,
                                     CASE WHEN m.state = 'inflight' THEN m.lease_until ELSE m.visible_at END,
                                     m.body, m.headers);
        END LOOP;
        EXIT WHEN n < 10000;
    END LOOP;
END
$$;

CREATE FUNCTION pgmq._seconds(seconds integer)
RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT make_interval(secs => greatest(coalesce(seconds, 0), 0))
$$;

CREATE FUNCTION pgmq._until(t timestamptz)
RETURNS interval
LANGUAGE sql VOLATILE AS $$
    SELECT greatest(coalesce(t, clock_timestamp()) - clock_timestamp(), interval '0')
$$;

-- Queues -------------------------------------------------------------------

-- The queue of a pgmq queue, if it is not there; queue's own notice about
-- one that is there is not pgmq's, so it is not shown.
CREATE FUNCTION pgmq._create_queue(queue text, unlogged boolean)
RETURNS void
LANGUAGE sql
SET client_min_messages = warning
AS $$
    SELECT mq_create_queue(queue, unlogged => unlogged, allow_null_bodies => true,
                           lease_until_transaction_end => true, if_not_exists => true)
$$;

-- create and create_unlogged: the queue, its archive table, its view, its
-- row in pgmq.meta; again on an existing queue, nothing more, with pgmq's
-- notices about what exists (its queue table and index are queue's
-- storage and pgmq.q_<name>).
CREATE FUNCTION pgmq._create(queue_name text, unlogged boolean, partitioned boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    queue text := pgmq._queue(queue_name);
    qview text := 'q_' || queue;
    atable text := 'a_' || queue;
    existed boolean;
BEGIN
    PERFORM pgmq.validate_queue_name(queue_name);
    existed := to_regclass(format('pgmq.%I', qview)) IS NOT NULL;
    PERFORM pgmq._create_queue(queue, unlogged);
    IF existed THEN
        RAISE NOTICE 'relation "%" already exists, skipping', qview;
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS pgmq.%I (
                        msg_id bigint PRIMARY KEY,
                        read_ct int DEFAULT 0 NOT NULL,
                        enqueued_at timestamptz DEFAULT now() NOT NULL,
                        archived_at timestamptz DEFAULT now() NOT NULL,
                        vt timestamptz NOT NULL,
                        message jsonb,
                        headers jsonb)', atable);
    IF existed THEN
        RAISE NOTICE 'relation "%" already exists, skipping', qview || '_vt_idx';
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at)',
                   'archived_at_idx_' || queue, atable);
    EXECUTE format('CREATE OR REPLACE VIEW pgmq.%I AS SELECT * FROM pgmq._messages(%L)',
                   qview, queue);
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgmq') THEN
        IF NOT pgmq._belongs(qview) THEN
            EXECUTE format('ALTER EXTENSION pgmq ADD VIEW pgmq.%I', qview);
        END IF;
        IF NOT pgmq._belongs(atable) THEN
            EXECUTE format('ALTER EXTENSION pgmq ADD TABLE pgmq.%I', atable);
        END IF;
    END IF;
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (queue_name, partitioned, unlogged)
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION pgmq._belongs(relname text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_depend d
          JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
         WHERE d.refclassid = 'pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgmq')
           AND c.relnamespace = 'pgmq'::regnamespace AND c.relname = $1)
$$;

CREATE FUNCTION pgmq.create(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._create(queue_name, false, false) $$;

CREATE FUNCTION pgmq.create_non_partitioned(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._create(queue_name, false, false) $$;

CREATE FUNCTION pgmq.create_unlogged(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._create(queue_name, true, false) $$;

-- An ordinary queue: queue's storage needs no partitions (no table bloat
-- under a held horizon, deletes by index); the intervals are not used.
CREATE FUNCTION pgmq.create_partitioned(queue_name text,
                                        partition_interval text DEFAULT '10000',
                                        retention_interval text DEFAULT '100000')
RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._create(queue_name, false, true) $$;

-- Drop a queue, its archive table, its view and its row in pgmq.meta;
-- false for a queue there is not.
CREATE FUNCTION pgmq.drop_queue(queue_name text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := pgmq._queue(queue_name);
    qview text := 'q_' || name;
    atable text := 'a_' || name;
BEGIN
    IF pgmq._belongs(qview) THEN
        EXECUTE format('ALTER EXTENSION pgmq DROP VIEW pgmq.%I', qview);
    END IF;
    IF pgmq._belongs(atable) THEN
        EXECUTE format('ALTER EXTENSION pgmq DROP TABLE pgmq.%I', atable);
    END IF;
    IF to_regclass(format('pgmq.%I', qview)) IS NOT NULL THEN
        EXECUTE format('DROP VIEW pgmq.%I', qview);
    END IF;
    IF to_regclass(format('pgmq.%I', atable)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE pgmq.%I', atable);
    END IF;
    DELETE FROM pgmq.meta WHERE lower(meta.queue_name) = name;
    IF NOT EXISTS (SELECT 1 FROM mq_queues q WHERE q.queue = name) THEN
        RETURN false;
    END IF;
    RETURN mq_drop_queue(name);
END
$$;

CREATE FUNCTION pgmq.drop_queue(queue_name text, partitioned boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0. Use drop_queue(queue_name) instead';
    RETURN pgmq.drop_queue(queue_name);
END
$$;

CREATE FUNCTION pgmq.purge_queue(queue_name text)
RETURNS bigint
LANGUAGE sql AS $$ SELECT mq_purge(pgmq._queue(queue_name)) $$;

CREATE FUNCTION pgmq.detach_archive(queue_name text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    atable text := 'a_' || pgmq._queue(queue_name);
BEGIN
    IF pgmq._belongs(atable) THEN
        EXECUTE format('ALTER EXTENSION pgmq DROP TABLE pgmq.%I', atable);
    END IF;
END
$$;

CREATE FUNCTION pgmq.list_queues()
RETURNS SETOF pgmq.queue_record
LANGUAGE sql STABLE AS $$
    SELECT queue_name, is_partitioned, is_unlogged, created_at FROM pgmq.meta
$$;

-- Sending ------------------------------------------------------------------

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay timestamptz)
RETURNS SETOF bigint
LANGUAGE sql AS $$
    SELECT mq_send(pgmq._queue(queue_name), msg, headers, delay => pgmq._until(delay))
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT mq_send(pgmq._queue(queue_name), msg) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT mq_send(pgmq._queue(queue_name), msg, headers) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay integer)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT mq_send(pgmq._queue(queue_name), msg, delay => pgmq._seconds(delay)) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay timestamptz)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT mq_send(pgmq._queue(queue_name), msg, delay => pgmq._until(delay)) $$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer)
RETURNS SETOF bigint
LANGUAGE sql AS $$
    SELECT mq_send(pgmq._queue(queue_name), msg, headers, delay => pgmq._seconds(delay))
$$;

-- pgmq pairs bodies and headers as unnest does: the shorter array is
-- padded with NULLs.
CREATE FUNCTION pgmq._send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay interval)
RETURNS SETOF bigint
LANGUAGE sql AS $$
    SELECT mq_send_batch(pgmq._queue(queue_name), msgs,
                         CASE WHEN headers IS NULL THEN NULL
                              ELSE ARRAY(SELECT headers[i] FROM generate_subscripts(msgs, 1) i) END,
                         delay => delay)
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, headers, pgmq._until(delay)) $$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[])
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, NULL, interval '0') $$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[])
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, headers, interval '0') $$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, NULL, pgmq._seconds(delay)) $$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, NULL, pgmq._until(delay)) $$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer)
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT pgmq._send_batch(queue_name, msgs, headers, pgmq._seconds(delay)) $$;

-- Reading ------------------------------------------------------------------

CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}')
RETURNS SETOF pgmq.message_record
LANGUAGE sql AS $$
    SELECT pgmq._record(m.id, m.deliveries, m.enqueued_at, m.visible_at, m.body, m.headers)
      FROM mq_read(pgmq._queue(queue_name), least(qty, 10000), pgmq._seconds(vt),
                   filter => nullif(conditional, '{}')) m
     WHERE qty > 0
$$;

-- A long poll, not a polling loop: queue wakes the reader at the commit of a
-- send (poll_interval_ms is not used).  Waits longer than queue.max_wait
-- are made of several.
CREATE FUNCTION pgmq.read_with_poll(queue_name text, vt integer, qty integer,
                                    max_poll_seconds integer DEFAULT 5,
                                    poll_interval_ms integer DEFAULT 100,
                                    conditional jsonb DEFAULT '{}')
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
DECLARE
    stop_at timestamptz := clock_timestamp() + pgmq._seconds(max_poll_seconds);
    m record;
BEGIN
    IF qty <= 0 THEN
        RETURN;
    END IF;
    LOOP
        FOR m IN SELECT * FROM mq_read(pgmq._queue(queue_name), least(qty, 10000), pgmq._seconds(vt),
                                       wait => greatest(stop_at - clock_timestamp(), interval '0'),
                                       filter => nullif(conditional, '{}')) LOOP
            RETURN NEXT pgmq._record(m.id, m.deliveries, m.enqueued_at, m.visible_at, m.body, m.headers);
        END LOOP;
        IF FOUND OR clock_timestamp() >= stop_at THEN
            RETURN;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION pgmq.pop(queue_name text)
RETURNS SETOF pgmq.message_record
LANGUAGE sql AS $$
    SELECT pgmq._record(m.id, m.deliveries, m.enqueued_at, m.visible_at, m.body, m.headers)
      FROM mq_pop(pgmq._queue(queue_name), 1) m
$$;

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
RETURNS SETOF pgmq.message_record
LANGUAGE sql AS $$
    SELECT pgmq._record(d.id, d.deliveries, d.enqueued_at, d.visible_at, d.body, d.headers)
      FROM mq_delay(pgmq._queue(queue_name), ARRAY[msg_id], pgmq._seconds(vt)) d
$$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_id bigint)
RETURNS boolean
LANGUAGE sql AS $$ SELECT mq_delete(pgmq._queue(queue_name), ARRAY[msg_id]) > 0 $$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE sql AS $$ SELECT id FROM mq_remove(pgmq._queue(queue_name), msg_ids) $$;

-- Archiving: the messages removed go to pgmq.a_<name> in the same
-- transaction.
CREATE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    queue text := pgmq._queue(queue_name);
BEGIN
    RETURN QUERY EXECUTE format(
        'INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
         SELECT id, deliveries, enqueued_at,
                CASE WHEN state = ''inflight'' THEN lease_until ELSE visible_at END, body, headers
           FROM mq_remove($1, $2)
         RETURNING msg_id', 'a_' || queue)
        USING queue, msg_ids;
END
$$;

CREATE FUNCTION pgmq.archive(queue_name text, msg_id bigint)
RETURNS boolean
LANGUAGE sql AS $$ SELECT EXISTS (SELECT 1 FROM pgmq.archive(queue_name, ARRAY[msg_id])) $$;

-- Figures ------------------------------------------------------------------

CREATE FUNCTION pgmq.metrics(queue_name text)
RETURNS pgmq.metrics_result
LANGUAGE sql STABLE AS $$
    SELECT queue_name, q.depth,
           extract(epoch FROM q.newest_age)::int, extract(epoch FROM q.oldest_age)::int,
           q.last_id, now(), q.ready
      FROM mq_queues q WHERE q.queue = pgmq._queue(queue_name)
$$;

CREATE FUNCTION pgmq.metrics_all()
RETURNS SETOF pgmq.metrics_result
LANGUAGE sql STABLE AS $$
    SELECT (pgmq.metrics(queue_name)).* FROM pgmq.meta
$$;
