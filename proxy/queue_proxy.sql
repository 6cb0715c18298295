-- The hand-written part of queue_proxy (SPEC section 11); scripts/gen-proxy.pl
-- puts it after the generated PL/Proxy functions and before the views.
--
-- The cluster is PL/Proxy's: the foreign server named queue, one option
-- p<N> per shard (a libpq connection string; several hosts allowed), and a
-- user mapping.  A name goes to the shard PL/Proxy maps hashtext(name) to:
-- hash & (N - 1) with a power-of-two N, or abs(hash % N) with the server
-- option modular_mapping '1' (any N).

-- The number of shards and whether they are mapped by modulus; 42704 when
-- there is no foreign server named queue with shards.
CREATE FUNCTION mq.cluster(OUT shards int, OUT modular boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT count(*) FILTER (WHERE o.option_name ~ '^p[0-9]+$'),
           -- PL/Proxy reads the option with atoi()
           coalesce(bool_or(o.option_name = 'modular_mapping'
                            AND coalesce((regexp_match(o.option_value, '^\s*([+-]?[0-9]+)'))[1]::int, 0) <> 0),
                    false)
      INTO shards, modular
      FROM pg_catalog.pg_foreign_server s
     CROSS JOIN LATERAL pg_catalog.pg_options_to_table(s.srvoptions) o
     WHERE s.srvname = 'queue';
    IF shards = 0 THEN
        RAISE EXCEPTION 'the proxy has no shards'
            USING ERRCODE = '42704',
                  DETAIL = 'There is no foreign server named queue with options p0, p1, ...',
                  HINT = 'CREATE SERVER queue FOREIGN DATA WRAPPER plproxy OPTIONS (p0 ''<conninfo>'', ...) and a user mapping for it.';
    END IF;
END
$$;

-- Every shard number, 0 to N - 1.
CREATE FUNCTION mq.shards() RETURNS SETOF int
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.generate_series(0, (mq.cluster()).shards - 1)
$$;

-- The shards the queues, streams or schedules of these names live on, as
-- PL/Proxy numbers partitions (p0 = 0), reading the cluster once; NULL for
-- a NULL name.
CREATE FUNCTION mq.shards_of(names text[]) RETURNS int[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c record := mq.cluster();
    n text;
    h int;
    shards int[] := '{}';
BEGIN
    FOREACH n IN ARRAY names LOOP
        IF n !~ '^[A-Za-z0-9_.-]{1,48}$' THEN
            RAISE EXCEPTION 'invalid name "%"', n
                USING ERRCODE = '22023',
                      DETAIL = 'Names are 1 to 48 characters from A-Z, a-z, 0-9, "_", "." and "-".';
        END IF;
        h := pg_catalog.hashtext(n);
        shards := shards || CASE WHEN c.modular THEN abs(h % c.shards) ELSE h & (c.shards - 1) END;
    END LOOP;
    RETURN shards;
END
$$;

-- The shard a queue, stream or schedule of this name lives on: where the
-- proxy sends its calls, and the shard column of the views.
CREATE FUNCTION mq_shard_of(name text) RETURNS int
LANGUAGE sql STABLE STRICT AS $$
    SELECT (mq.shards_of(ARRAY[name]))[1]
$$;

-- The kind of an object ('queue', 'topic', 'stream'), asked of the shard of
-- its name (a topic is on every shard); NULL when the caller sees no
-- object of that name there.
CREATE FUNCTION mq.kind_of(name text) RETURNS text
LANGUAGE plproxy AS $$
    CLUSTER 'queue';
    RUN ON hashtext(coalesce(name, ''));
    SELECT (SELECT g.kind FROM mq_grants g WHERE g.object = name LIMIT 1);
$$;

-- 0A000 when the queue or stream "name" (the argument what) is not on the
-- shard of "owner" (the argument owner_what): a call runs on one shard.  A
-- topic is on every shard; a name the caller sees nothing of is left to
-- the shard to report.
CREATE FUNCTION mq.same_shard(what text, name text, owner_what text, owner text)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    shards int[] := mq.shards_of(ARRAY[name, owner]);
    a int := shards[1];
    b int := shards[2];
    kind text;
BEGIN
    IF a = b THEN
        RETURN;
    END IF;
    kind := mq.kind_of(name);
    IF kind IN ('queue', 'stream') THEN
        RAISE EXCEPTION '% "%" is on shard %, % "%" on shard %', what, name, a, owner_what, owner, b
            USING ERRCODE = '0A000',
                  DETAIL = format('The %s is on another shard: through the proxy, a call runs on one shard, '
                                  'so the objects it names must be on the same shard.', kind),
                  HINT = 'Choose names on the same shard (mq_shard_of tells a name''s shard).';
    END IF;
END
$$;

-- Whether the schedule sends to a topic (and so is on every shard).
CREATE FUNCTION mq.is_topic_schedule(schedule text) RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'queue';
    RUN ON hashtext(coalesce(schedule, ''));
    SELECT EXISTS (SELECT 1 FROM mq_schedules s JOIN mq_topics t ON t.topic = s.target
                    WHERE s.schedule = schedule);
$$;

-- The rows of the views on one shard: the columns of queue's views, in
-- order (the proxy tests compare them with a shard's).

CREATE TYPE mq.queues_row AS (
    queue text,
    depth bigint,
    ready bigint,
    inflight bigint,
    delayed bigint,
    oldest_ready_age interval,
    dead_letter_queue text,
    visibility_timeout interval,
    max_deliveries int,
    message_ttl interval,
    max_length bigint,
    overflow text,
    max_inflight int,
    dedup_window interval,
    unlogged boolean,
    created_at timestamptz,
    max_inflight_per_group int,
    rate_limit float8,
    retry_delay interval,
    retry_backoff text,
    retry_max_delay interval,
    retry_jitter float8,
    allow_null_bodies boolean,
    lease_until_transaction_end boolean,
    oldest_age interval,
    newest_age interval,
    last_id bigint);

CREATE TYPE mq.message_groups_row AS (
    queue text,
    group_key text,
    ready bigint,
    inflight bigint,
    delayed bigint,
    oldest_age interval);

CREATE TYPE mq.stats_row AS (
    queue text,
    sent bigint,
    delivered bigint,
    acked bigint,
    nacked bigint,
    dead_lettered bigint,
    expired bigint,
    rejected bigint,
    appended bigint,
    consumed bigint,
    stats_reset timestamptz);

CREATE TYPE mq.topics_row AS (
    topic text,
    queue text,
    pattern text);

CREATE TYPE mq.streams_row AS (
    stream text,
    partitions int,
    partition int,
    first_position bigint,
    next_position bigint,
    records bigint,
    bytes bigint,
    max_age interval,
    max_bytes bigint,
    max_messages bigint,
    dedup_window interval,
    created_at timestamptz);

CREATE TYPE mq.groups_row AS (
    stream text,
    consumer_group text,
    partition int,
    "position" bigint,
    lag bigint);

CREATE TYPE mq.schedules_row AS (
    schedule text,
    owner regrole,
    cron text,
    timezone text,
    target text,
    paused boolean,
    next_run timestamptz,
    last_run timestamptz,
    runs bigint,
    last_error text,
    catch_up boolean,
    routing_key text,
    body jsonb,
    headers jsonb,
    created_at timestamptz);

CREATE TYPE mq.grants_row AS (
    object text,
    kind text,
    owner regrole,
    grantee regrole,
    privileges text[]);

-- wrapper: mq_version
BEGIN
    RETURN '@version@';
END
-- end wrapper

-- wrapper: mq_create_queue mq_alter_queue
BEGIN
    IF dead_letter_queue IS NOT NULL THEN
        PERFORM mq.same_shard('dead_letter_queue', dead_letter_queue, 'queue', queue);
    END IF;
    PERFORM @key@;
END
-- end wrapper

-- wrapper: mq_move
BEGIN
    IF to_queue IS NOT NULL THEN
        PERFORM mq.same_shard('to_queue', to_queue, 'queue', queue);
    END IF;
    RETURN @key@;
END
-- end wrapper

-- wrapper: mq_stats_reset
BEGIN
    IF queue IS NULL THEN
        PERFORM count(*) FROM @each@;
    ELSE
        PERFORM @key@;
    END IF;
END
-- end wrapper

-- wrapper: mq_publish
-- On every shard at once, the sum of what they delivered (NULL when each
-- had the idempotency key).  A name that is not a topic fails on every
-- shard, and the first shard to answer would tell: the name's own shard
-- knows whether it is a queue or a stream.
DECLARE
    kind text;
BEGIN
    RETURN (SELECT sum(r)::int FROM @all@);
EXCEPTION WHEN undefined_object OR wrong_object_type THEN
    kind := mq.kind_of(topic);
    IF kind IN ('queue', 'stream') THEN
        RAISE EXCEPTION '"%" is a %, not a topic', topic, kind
            USING ERRCODE = '42809', DETAIL = 'Queues, topics and streams share one namespace.';
    END IF;
    RAISE;
END
-- end wrapper

-- wrapper: mq_create_schedule
BEGIN
    IF mq.kind_of(target) = 'topic' THEN
        PERFORM count(*) FROM @each@;
    ELSE
        IF target IS NOT NULL AND schedule IS NOT NULL THEN
            PERFORM mq.same_shard('target', target, 'schedule', schedule);
        END IF;
        PERFORM @key@;
    END IF;
END
-- end wrapper

-- wrapper: mq_alter_schedule
BEGIN
    IF schedule IS NOT NULL AND mq.is_topic_schedule(schedule) THEN
        PERFORM count(*) FROM @each@;
    ELSE
        PERFORM @key@;
    END IF;
END
-- end wrapper

-- wrapper: mq_drop_schedule
BEGIN
    IF schedule IS NOT NULL AND mq.is_topic_schedule(schedule) THEN
        RETURN (SELECT bool_or(r) FROM @each@);
    END IF;
    RETURN @key@;
END
-- end wrapper

-- wrapper: mq_grant mq_revoke
BEGIN
    IF mq.kind_of(name) = 'topic' THEN
        PERFORM count(*) FROM @each@;
    ELSE
        PERFORM @key@;
    END IF;
END
-- end wrapper
