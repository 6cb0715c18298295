/*
 * queue -- message queues, pub/sub topics and streams inside PostgreSQL.
 *
 * The single install script.  The public API (functions, views, types, all
 * named mq_*) goes into the schema CREATE EXTENSION targets; storage lives
 * in schema mq, which users never need to touch.
 */

\echo Use "CREATE EXTENSION queue" to load this file. \quit

-- The first C function below loads the library, whose _PG_init fails with
-- a clear message and hint unless it is in shared_preload_libraries.

CREATE SCHEMA mq;

/* ---------------------------------------------------------------------
 * Catalog
 * ---------------------------------------------------------------------
 */

-- One namespace for queues, topics and streams.
CREATE TABLE mq.objects (
    id          int PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    kind        "char" NOT NULL CHECK (kind IN ('q', 't', 's')),
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Grants (mq_grant): the roles granted send, read and manage.  The owner
    -- holds every privilege.  Plain role OIDs, which pg_upgrade keeps and
    -- dumps give as role names (an aclitem[] would stop pg_upgrade to 16+).
    senders     regrole[] NOT NULL DEFAULT '{}',
    readers     regrole[] NOT NULL DEFAULT '{}',
    managers    regrole[] NOT NULL DEFAULT '{}'
);
CREATE SEQUENCE mq.object_id_seq AS int;

-- Options of a queue; NULL means "none" for the nullable ones.
CREATE TABLE mq.queues (
    id                  int PRIMARY KEY REFERENCES mq.objects (id) ON DELETE CASCADE,
    visibility_timeout  interval NOT NULL,
    max_deliveries      int,
    dead_letter_queue   int REFERENCES mq.queues (id),
    message_ttl         interval,
    max_length          bigint,
    overflow            text NOT NULL,
    max_inflight        int,
    dedup_window        interval NOT NULL,
    unlogged            boolean NOT NULL,
    max_inflight_per_group int NOT NULL DEFAULT 1,
    rate_limit          float8,
    retry_delay         interval,
    retry_backoff       text NOT NULL DEFAULT 'exponential',
    retry_max_delay     interval NOT NULL DEFAULT '1 hour',
    retry_jitter        float8 NOT NULL DEFAULT 0,
    allow_null_bodies   boolean NOT NULL DEFAULT false,
    lease_until_transaction_end boolean NOT NULL DEFAULT false
);

-- Topics and their subscriptions; dropping a queue removes its subscriptions.
CREATE TABLE mq.topics (
    id            int PRIMARY KEY REFERENCES mq.objects (id) ON DELETE CASCADE,
    dedup_window  interval NOT NULL
);
CREATE TABLE mq.subscriptions (
    topic    int NOT NULL REFERENCES mq.topics (id) ON DELETE CASCADE,
    queue    int NOT NULL REFERENCES mq.queues (id) ON DELETE CASCADE,
    pattern  text COLLATE "C" NOT NULL,
    PRIMARY KEY (topic, queue, pattern)
);

-- Streams and their segments (one storage table each, mq.s_<id>_<seg>);
-- records are appended to the newest segment.
CREATE TABLE mq.streams (
    id            int PRIMARY KEY REFERENCES mq.objects (id) ON DELETE CASCADE,
    partitions    int NOT NULL,
    max_age       interval,
    max_bytes     bigint,
    max_messages  bigint,
    dedup_window  interval NOT NULL
);
CREATE TABLE mq.stream_segments (
    stream      int NOT NULL REFERENCES mq.streams (id) ON DELETE CASCADE,
    seg         int NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sealed      boolean NOT NULL DEFAULT false,    -- no appends any more; figures below
    PRIMARY KEY (stream, seg)
);
-- What a sealed segment holds of each partition (retention decides on it).
CREATE TABLE mq.segment_partitions (
    stream           int NOT NULL,
    seg              int NOT NULL,
    partition        int NOT NULL,
    records          bigint NOT NULL,
    max_position     bigint NOT NULL,
    max_appended_at  timestamptz NOT NULL,
    bytes            bigint NOT NULL,
    PRIMARY KEY (stream, seg, partition),
    FOREIGN KEY (stream, seg) REFERENCES mq.stream_segments ON DELETE CASCADE
);
-- One past the highest position retention removed, per partition: positions
-- never go back, even when every record of a partition is gone.
CREATE TABLE mq.stream_floors (
    stream         int NOT NULL REFERENCES mq.streams (id) ON DELETE CASCADE,
    partition      int NOT NULL,
    next_position  bigint NOT NULL,
    PRIMARY KEY (stream, partition)
);

-- Owners and grantees are kept in pg_shdepend, as for any object with an
-- ACL, so that a role cannot be dropped while it owns or holds a grant on
-- a queue, topic or stream (the trigger also runs when pg_restore loads
-- the catalog).
CREATE FUNCTION mq.objects_dependencies() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mq_objects_dependencies';
CREATE TRIGGER objects_dependencies
    AFTER INSERT OR UPDATE OF id, owner, senders, readers, managers OR DELETE ON mq.objects
    FOR EACH ROW EXECUTE FUNCTION mq.objects_dependencies();

SELECT pg_catalog.pg_extension_config_dump('mq.objects', '');
SELECT pg_catalog.pg_extension_config_dump('mq.streams', '');
SELECT pg_catalog.pg_extension_config_dump('mq.stream_segments', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment_partitions', '');
SELECT pg_catalog.pg_extension_config_dump('mq.stream_floors', '');
SELECT pg_catalog.pg_extension_config_dump('mq.topics', '');
SELECT pg_catalog.pg_extension_config_dump('mq.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('mq.queues', '');
SELECT pg_catalog.pg_extension_config_dump('mq.object_id_seq', '');

-- May the calling role see an object (owner, grantee, superuser or member
-- of pg_monitor)?  The views show only the objects it is true for.
CREATE FUNCTION mq.visible(owner regrole, senders regrole[], readers regrole[],
                           managers regrole[])
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_visible';

-- The version of the loaded library; pg_extension.extversion is that of
-- the SQL objects (they differ until ALTER EXTENSION queue UPDATE runs).
CREATE FUNCTION mq_version()
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_version';

/* ---------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------
 */

CREATE TYPE mq_message AS (
    id          bigint,
    receipt     bigint,
    body        jsonb,
    headers     jsonb,
    deliveries  int,
    priority    int,
    enqueued_at timestamptz,
    visible_at  timestamptz,
    max_deliveries int,         -- the queue's limit when it was read (NULL: none)
    group_key   text            -- the message's group (NULL: none)
);

CREATE TYPE mq_record AS (
    partition    int,
    "position"   bigint,
    key          text,
    body         jsonb,
    headers      jsonb,
    appended_at  timestamptz
);

/* ---------------------------------------------------------------------
 * Queue DDL
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq_create_queue(
    queue text,
    visibility_timeout interval DEFAULT '30 seconds',
    max_deliveries int DEFAULT NULL,
    dead_letter_queue text DEFAULT NULL,
    message_ttl interval DEFAULT NULL,
    max_length bigint DEFAULT NULL,
    overflow text DEFAULT 'reject',
    max_inflight int DEFAULT NULL,
    dedup_window interval DEFAULT '1 day',
    unlogged boolean DEFAULT false,
    if_not_exists boolean DEFAULT false,
    max_inflight_per_group int DEFAULT 1,
    rate_limit float8 DEFAULT NULL,
    retry_delay interval DEFAULT NULL,
    retry_backoff text DEFAULT 'exponential',
    retry_max_delay interval DEFAULT '1 hour',
    retry_jitter float8 DEFAULT 0,
    allow_null_bodies boolean DEFAULT false,
    lease_until_transaction_end boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_create_queue';

CREATE FUNCTION mq_alter_queue(
    queue text,
    visibility_timeout interval DEFAULT NULL,
    max_deliveries int DEFAULT NULL,
    dead_letter_queue text DEFAULT NULL,
    message_ttl interval DEFAULT NULL,
    max_length bigint DEFAULT NULL,
    overflow text DEFAULT NULL,
    max_inflight int DEFAULT NULL,
    dedup_window interval DEFAULT NULL,
    unlogged boolean DEFAULT NULL,
    reset text[] DEFAULT NULL,
    max_inflight_per_group int DEFAULT NULL,
    rate_limit float8 DEFAULT NULL,
    retry_delay interval DEFAULT NULL,
    retry_backoff text DEFAULT NULL,
    retry_max_delay interval DEFAULT NULL,
    retry_jitter float8 DEFAULT NULL,
    allow_null_bodies boolean DEFAULT NULL,
    lease_until_transaction_end boolean DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_alter_queue';

CREATE FUNCTION mq_drop_queue(queue text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_drop_queue';

CREATE FUNCTION mq_purge(queue text)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_purge';

/* ---------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq_send(
    queue text,
    body jsonb,
    headers jsonb DEFAULT NULL,
    delay interval DEFAULT '0',
    priority int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    group_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_send';

CREATE FUNCTION mq_send_batch(
    queue text,
    bodies jsonb[],
    headers jsonb[] DEFAULT NULL,
    delay interval DEFAULT '0',
    priority int DEFAULT 0,
    idempotency_keys text[] DEFAULT NULL,
    group_keys text[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'mq_send_batch';

/* ---------------------------------------------------------------------
 * Receiving
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq_read(
    queue text,
    qty int DEFAULT 1,
    vt interval DEFAULT NULL,
    wait interval DEFAULT '0',
    ack bigint[] DEFAULT NULL,
    filter jsonb DEFAULT NULL)
RETURNS SETOF mq_message
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10
AS 'MODULE_PATHNAME', 'mq_read';

CREATE FUNCTION mq_pop(queue text, qty int DEFAULT 1)
RETURNS SETOF mq_message
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10
AS 'MODULE_PATHNAME', 'mq_pop';

CREATE FUNCTION mq_peek(queue text, qty int DEFAULT 10)
RETURNS SETOF mq_message
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10
AS 'MODULE_PATHNAME', 'mq_peek';

CREATE FUNCTION mq_ack(queue text, receipt bigint, strict boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_ack';

CREATE FUNCTION mq_ack(queue text, receipts bigint[], strict boolean DEFAULT true)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_ack_array';

-- A receipt sent as a parameter without a type (node-postgres and other
-- drivers do) resolves here; the text is the receipt's digits.
CREATE FUNCTION mq_ack(queue text, receipt text, strict boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_ack_text';

CREATE FUNCTION mq_nack(
    queue text,
    receipt bigint,
    delay interval DEFAULT NULL,
    strict boolean DEFAULT true,
    reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_nack';

CREATE FUNCTION mq_extend(
    queue text,
    receipt bigint,
    vt interval,
    strict boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_extend';

CREATE FUNCTION mq_redrive(
    dead_letter_queue text,
    max bigint DEFAULT NULL,
    source_queue text DEFAULT NULL,
    ids bigint[] DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_redrive';

-- Day-2 operations (SPEC section 3b): browse without leasing, delete and
-- move by id in any state.
CREATE FUNCTION mq_inspect(
    queue text,
    state text DEFAULT 'all',
    after_id bigint DEFAULT NULL,
    qty int DEFAULT 100)
RETURNS TABLE(id bigint, state text, priority int, group_key text, deliveries int,
              enqueued_at timestamptz, visible_at timestamptz,
              lease_until timestamptz, lease_pid int, headers jsonb, body jsonb)
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'mq_inspect';

CREATE FUNCTION mq_delete(queue text, ids bigint[])
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_delete';

CREATE FUNCTION mq_move(queue text, ids bigint[], to_queue text)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_move';

-- Delete returning the rows (for an archive kept in the same transaction),
-- and make messages ready at a time of the caller's, by id in any state.
CREATE FUNCTION mq_remove(queue text, ids bigint[])
RETURNS TABLE(id bigint, state text, priority int, group_key text, deliveries int,
              enqueued_at timestamptz, visible_at timestamptz,
              lease_until timestamptz, lease_pid int, headers jsonb, body jsonb)
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10
AS 'MODULE_PATHNAME', 'mq_remove';

CREATE FUNCTION mq_delay(queue text, ids bigint[], delay interval DEFAULT '0')
RETURNS TABLE(id bigint, state text, priority int, group_key text, deliveries int,
              enqueued_at timestamptz, visible_at timestamptz,
              lease_until timestamptz, lease_pid int, headers jsonb, body jsonb)
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10
AS 'MODULE_PATHNAME', 'mq_delay';

-- Messages brought from another system (a migration), keeping their ids.
CREATE FUNCTION mq_import(queue text, ids bigint[], bodies jsonb[],
                          headers jsonb[] DEFAULT NULL,
                          enqueued_at timestamptz[] DEFAULT NULL,
                          visible_at timestamptz[] DEFAULT NULL,
                          deliveries int[] DEFAULT NULL,
                          last_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_import';

/* ---------------------------------------------------------------------
 * Topics (SPEC section 4)
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq_create_topic(
    topic text,
    dedup_window interval DEFAULT '1 day',
    if_not_exists boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_create_topic';

CREATE FUNCTION mq_drop_topic(topic text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_drop_topic';

CREATE FUNCTION mq_subscribe(topic text, queue text, pattern text DEFAULT '#')
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_subscribe';

CREATE FUNCTION mq_unsubscribe(topic text, queue text, pattern text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_unsubscribe';

CREATE FUNCTION mq_publish(
    topic text,
    routing_key text,
    body jsonb,
    headers jsonb DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    group_key text DEFAULT NULL)
RETURNS int
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_publish';

/* ---------------------------------------------------------------------
 * Inspection
 * ---------------------------------------------------------------------
 */

-- A queue's figures (SPEC section 6), and how long ago the oldest and the
-- newest stored message were enqueued, in any state, and the highest id
-- given so far.
CREATE FUNCTION mq.queue_state(
    queue text,
    OUT depth bigint,
    OUT ready bigint,
    OUT inflight bigint,
    OUT delayed bigint,
    OUT oldest_ready_age interval,
    OUT oldest_age interval,
    OUT newest_age interval,
    OUT last_id bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_queue_state';

CREATE VIEW mq_queues WITH (security_barrier) AS
SELECT o.name AS queue,
       f.depth,
       f.ready,
       f.inflight,
       f.delayed,
       f.oldest_ready_age,
       d.name AS dead_letter_queue,
       q.visibility_timeout,
       q.max_deliveries,
       q.message_ttl,
       q.max_length,
       q.overflow,
       q.max_inflight,
       q.dedup_window,
       q.unlogged,
       o.created_at,
       q.max_inflight_per_group,
       q.rate_limit,
       q.retry_delay,
       q.retry_backoff,
       q.retry_max_delay,
       q.retry_jitter,
       q.allow_null_bodies,
       q.lease_until_transaction_end,
       f.oldest_age,
       f.newest_age,
       f.last_id
  FROM mq.objects o
  JOIN mq.queues q ON q.id = o.id
  LEFT JOIN mq.objects d ON d.id = q.dead_letter_queue
 CROSS JOIN LATERAL mq.queue_state(o.name) f
 WHERE o.kind = 'q' AND mq.visible(o.owner, o.senders, o.readers, o.managers);

-- One row per message group of a queue (SPEC section 3a): its messages by
-- state and the age of its oldest.
CREATE FUNCTION mq.message_group_figures(
    queue text,
    OUT group_key text,
    OUT ready bigint,
    OUT inflight bigint,
    OUT delayed bigint,
    OUT oldest_age interval)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_message_group_figures';

CREATE VIEW mq_message_groups WITH (security_barrier) AS
SELECT o.name AS queue, f.group_key, f.ready, f.inflight, f.delayed, f.oldest_age
  FROM mq.objects o
 CROSS JOIN LATERAL mq.message_group_figures(o.name) f
 WHERE o.kind = 'q' AND mq.visible(o.owner, o.senders, o.readers, o.managers);

CREATE FUNCTION mq.queue_stats(
    queue text,
    OUT sent bigint,
    OUT delivered bigint,
    OUT acked bigint,
    OUT nacked bigint,
    OUT dead_lettered bigint,
    OUT expired bigint,
    OUT rejected bigint,
    OUT appended bigint,
    OUT consumed bigint,
    OUT stats_reset timestamptz)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_queue_stats';

-- Counters since the server started or since mq_stats_reset(), counted when
-- the transaction that did the work commits.
CREATE VIEW mq_stats WITH (security_barrier) AS
SELECT o.name AS queue, s.*
  FROM mq.objects o
 CROSS JOIN LATERAL mq.queue_stats(o.name) s
 WHERE o.kind IN ('q', 's') AND mq.visible(o.owner, o.senders, o.readers, o.managers);

CREATE FUNCTION mq_stats_reset(queue text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_stats_reset';

-- One row per subscription; a topic without any shows once, with NULLs.
CREATE VIEW mq_topics WITH (security_barrier) AS
SELECT t.name AS topic, q.name AS queue, s.pattern
  FROM mq.objects t
  LEFT JOIN mq.subscriptions s ON s.topic = t.id
  LEFT JOIN mq.objects q ON q.id = s.queue
 WHERE t.kind = 't' AND mq.visible(t.owner, t.senders, t.readers, t.managers);

/* ---------------------------------------------------------------------
 * Streams
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq_create_stream(
    stream text,
    partitions int DEFAULT 1,
    max_age interval DEFAULT NULL,
    max_bytes bigint DEFAULT NULL,
    max_messages bigint DEFAULT NULL,
    dedup_window interval DEFAULT '1 day',
    if_not_exists boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_create_stream';

CREATE FUNCTION mq_alter_stream(
    stream text,
    max_age interval DEFAULT NULL,
    max_bytes bigint DEFAULT NULL,
    max_messages bigint DEFAULT NULL,
    dedup_window interval DEFAULT NULL,
    reset text[] DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_alter_stream';

CREATE FUNCTION mq_drop_stream(stream text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_drop_stream';

CREATE FUNCTION mq_append(
    stream text,
    body jsonb,
    key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    idempotency_key text DEFAULT NULL)
RETURNS TABLE(partition int, "position" bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1
AS 'MODULE_PATHNAME', 'mq_append';

CREATE FUNCTION mq_append_batch(
    stream text,
    bodies jsonb[],
    keys text[] DEFAULT NULL,
    headers jsonb[] DEFAULT NULL,
    idempotency_keys text[] DEFAULT NULL)
RETURNS TABLE(partition int, "position" bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'mq_append_batch';

CREATE FUNCTION mq_stream_read(
    stream text,
    partition int,
    from_position bigint,
    max int DEFAULT 100)
RETURNS SETOF mq_record
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'mq_stream_read';

CREATE FUNCTION mq_create_group(
    stream text,
    consumer_group text,
    start text DEFAULT 'earliest',
    if_not_exists boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_create_group';

CREATE FUNCTION mq_drop_group(stream text, consumer_group text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_drop_group';

CREATE FUNCTION mq_consume(
    stream text,
    consumer_group text,
    max int DEFAULT 100,
    wait interval DEFAULT '0')
RETURNS SETOF mq_record
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100
AS 'MODULE_PATHNAME', 'mq_consume';

CREATE FUNCTION mq_seek(stream text, consumer_group text, partition int, to_position bigint)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_seek_position';

CREATE FUNCTION mq_seek(stream text, consumer_group text, at timestamptz)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_seek_time';

CREATE FUNCTION mq.group_figures(
    stream text,
    OUT consumer_group text,
    OUT partition int,
    OUT "position" bigint,
    OUT lag bigint)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_group_figures';

-- One row per consumer group and partition.
CREATE VIEW mq_groups WITH (security_barrier) AS
SELECT o.name AS stream, f.consumer_group, f.partition, f."position", f.lag
  FROM mq.objects o
 CROSS JOIN LATERAL mq.group_figures(o.name) f
 WHERE o.kind = 's' AND mq.visible(o.owner, o.senders, o.readers, o.managers);

CREATE FUNCTION mq.stream_figures(
    stream text,
    OUT partition int,
    OUT first_position bigint,
    OUT next_position bigint,
    OUT records bigint,
    OUT bytes bigint)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_stream_figures';

-- One row per stream partition.
CREATE VIEW mq_streams WITH (security_barrier) AS
SELECT o.name AS stream,
       s.partitions,
       f.partition,
       f.first_position,
       f.next_position,
       f.records,
       f.bytes,
       s.max_age,
       s.max_bytes,
       s.max_messages,
       s.dedup_window,
       o.created_at
  FROM mq.objects o
  JOIN mq.streams s ON s.id = o.id
 CROSS JOIN LATERAL mq.stream_figures(o.name) f
 WHERE o.kind = 's' AND mq.visible(o.owner, o.senders, o.readers, o.managers);

/* ---------------------------------------------------------------------
 * Schedules (SPEC section 10)
 * ---------------------------------------------------------------------
 */

-- Recurring messages the background worker sends to a queue, topic or
-- stream.  Names have a namespace of their own; ids come from the objects'
-- sequence, so that an owner's row in pg_shdepend names one thing.
CREATE TABLE mq.schedules (
    id           int PRIMARY KEY,
    name         text COLLATE "C" NOT NULL UNIQUE,
    owner        regrole NOT NULL,
    cron         text NOT NULL,
    timezone     text NOT NULL,
    target       int NOT NULL REFERENCES mq.objects (id) ON DELETE CASCADE,
    body         jsonb NOT NULL,
    headers      jsonb,
    routing_key  text COLLATE "C",
    catch_up     boolean NOT NULL,
    paused       boolean NOT NULL DEFAULT false,
    next_run     timestamptz,           -- the next scheduled time; NULL: none
    last_run     timestamptz,           -- the scheduled time of the last run sent
    runs         bigint NOT NULL DEFAULT 0,
    last_error   text,                  -- why the latest run failed, until one succeeds
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX schedules_due ON mq.schedules (next_run) WHERE NOT paused;
CREATE TRIGGER schedules_dependencies
    AFTER INSERT OR UPDATE OF id, owner OR DELETE ON mq.schedules
    FOR EACH ROW EXECUTE FUNCTION mq.objects_dependencies();
SELECT pg_catalog.pg_extension_config_dump('mq.schedules', '');

CREATE FUNCTION mq_create_schedule(
    schedule text,
    cron text,
    target text,
    body jsonb,
    headers jsonb DEFAULT NULL,
    routing_key text DEFAULT NULL,
    timezone text DEFAULT 'UTC',
    catch_up boolean DEFAULT false,
    if_not_exists boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_create_schedule';

-- NULL arguments leave their setting as it is.
CREATE FUNCTION mq_alter_schedule(
    schedule text,
    cron text DEFAULT NULL,
    body jsonb DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    timezone text DEFAULT NULL,
    catch_up boolean DEFAULT NULL,
    paused boolean DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_alter_schedule';

CREATE FUNCTION mq_drop_schedule(schedule text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_drop_schedule';

-- The next count times (after "after", default now) at which a cron
-- expression runs in a time zone: what a schedule would do, to try one.
CREATE FUNCTION mq_cron_next(
    cron text,
    timezone text DEFAULT 'UTC',
    after timestamptz DEFAULT NULL,
    count int DEFAULT 1)
RETURNS SETOF timestamptz
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_cron_next';

-- The schedules the caller owns (or has the privileges of the owner of),
-- or whose target it may see.
CREATE VIEW mq_schedules WITH (security_barrier) AS
SELECT s.name AS schedule,
       s.owner,
       s.cron,
       s.timezone,
       o.name AS target,
       s.paused,
       s.next_run,
       s.last_run,
       s.runs,
       s.last_error,
       s.catch_up,
       s.routing_key,
       s.body,
       s.headers,
       s.created_at
  FROM mq.schedules s
  JOIN mq.objects o ON o.id = s.target
 WHERE pg_has_role(s.owner::oid, 'USAGE')
    OR mq.visible(o.owner, o.senders, o.readers, o.managers);
GRANT SELECT ON mq_schedules TO PUBLIC;

/* ---------------------------------------------------------------------
 * Privileges (SPEC section 8)
 * ---------------------------------------------------------------------
 */

-- privileges: any of send, read, manage, or all.  The owner (or a
-- superuser) grants anything; a holder of manage grants send and read.
CREATE FUNCTION mq_grant(name text, role regrole, privileges text[])
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_grant';

-- privileges NULL: every privilege the role holds on the object.
CREATE FUNCTION mq_revoke(name text, role regrole, privileges text[] DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_revoke';

-- One row per grantee of each object the caller may see, and one row with
-- a NULL grantee for an object without grants.
CREATE VIEW mq_grants WITH (security_barrier) AS
SELECT o.name AS object,
       CASE o.kind WHEN 'q' THEN 'queue' WHEN 't' THEN 'topic' ELSE 'stream' END AS kind,
       o.owner,
       g.grantee,
       g.privileges
  FROM mq.objects o
  LEFT JOIN LATERAL (
        SELECT p.grantee, array_agg(p.privilege ORDER BY p.rank) AS privileges
          FROM (SELECT r, 'send', 1 FROM unnest(o.senders) r
                UNION ALL SELECT r, 'read', 2 FROM unnest(o.readers) r
                UNION ALL SELECT r, 'manage', 3 FROM unnest(o.managers) r) p (grantee, privilege, rank)
         GROUP BY p.grantee) g ON true
 WHERE mq.visible(o.owner, o.senders, o.readers, o.managers);

-- The views show each caller only what it may see.
GRANT SELECT ON mq_queues, mq_message_groups, mq_stats, mq_topics, mq_streams, mq_groups, mq_grants TO PUBLIC;

-- Creating objects is granted deliberately.

REVOKE ALL ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION mq_create_topic(text, interval, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION mq_create_stream(text, int, interval, bigint, bigint, interval, boolean) FROM PUBLIC;
