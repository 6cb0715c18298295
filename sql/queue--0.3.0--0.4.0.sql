/*
 * queue 0.3.0 -> 0.4.0: grants without aclitem.
 *
 * mq.objects.acl (aclitem[]) becomes three regrole[] columns, senders,
 * readers and managers: pg_upgrade refuses aclitem columns in user tables
 * when upgrading from 15 or older (16 changed the type's format), while
 * role OIDs are kept by pg_upgrade and dumped as names.  Every grant is
 * carried over; the grants' pg_shdepend rows are recomputed from the new
 * columns.  mq.visible() and the views read them.
 */

\echo Use "ALTER EXTENSION queue UPDATE TO '0.4.0'" to load this file. \quit

-- Message groups, rate limits and retry policies (SPEC section 3a).
ALTER TABLE mq.queues
    ADD COLUMN max_inflight_per_group int NOT NULL DEFAULT 1,
    ADD COLUMN rate_limit float8,
    ADD COLUMN retry_delay interval,
    ADD COLUMN retry_backoff text NOT NULL DEFAULT 'exponential',
    ADD COLUMN retry_max_delay interval NOT NULL DEFAULT '1 hour',
    ADD COLUMN retry_jitter float8 NOT NULL DEFAULT 0,
    ADD COLUMN allow_null_bodies boolean NOT NULL DEFAULT false,
    ADD COLUMN lease_until_transaction_end boolean NOT NULL DEFAULT false;

-- A queue may hold NULL bodies (its option allow_null_bodies, or one
-- moved from such a queue): the storage column allows NULL.
DO $$
DECLARE
    q int;
BEGIN
    FOR q IN SELECT id FROM mq.queues LOOP
        EXECUTE pg_catalog.format('ALTER TABLE mq.q_%s ALTER COLUMN body DROP NOT NULL', q);
    END LOOP;
END
$$;

ALTER TABLE mq.objects
    ADD COLUMN senders regrole[] NOT NULL DEFAULT '{}',
    ADD COLUMN readers regrole[] NOT NULL DEFAULT '{}',
    ADD COLUMN managers regrole[] NOT NULL DEFAULT '{}';

-- send was INSERT, read SELECT, manage UPDATE (the trigger does not fire:
-- these columns are not among those it watches yet).
UPDATE mq.objects o
   SET senders = ARRAY(SELECT a.grantee::regrole FROM pg_catalog.aclexplode(o.acl) a
                        WHERE a.privilege_type = 'INSERT' ORDER BY a.grantee),
       readers = ARRAY(SELECT a.grantee::regrole FROM pg_catalog.aclexplode(o.acl) a
                        WHERE a.privilege_type = 'SELECT' ORDER BY a.grantee),
       managers = ARRAY(SELECT a.grantee::regrole FROM pg_catalog.aclexplode(o.acl) a
                         WHERE a.privilege_type = 'UPDATE' ORDER BY a.grantee)
 WHERE o.acl IS NOT NULL;

CREATE FUNCTION mq.visible(owner regrole, senders regrole[], readers regrole[],
                           managers regrole[])
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_visible';

-- mq.queue_figures, and how long ago the oldest and the newest stored
-- message were enqueued, in any state, and the highest id given so far,
-- in one call (mq.queue_figures goes once the view no longer uses it).
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

CREATE OR REPLACE VIEW mq_queues WITH (security_barrier) AS
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

DROP FUNCTION mq.queue_figures(text);

CREATE OR REPLACE VIEW mq_stats WITH (security_barrier) AS
SELECT o.name AS queue, s.*
  FROM mq.objects o
 CROSS JOIN LATERAL mq.queue_stats(o.name) s
 WHERE o.kind IN ('q', 's') AND mq.visible(o.owner, o.senders, o.readers, o.managers);

CREATE OR REPLACE VIEW mq_topics WITH (security_barrier) AS
SELECT t.name AS topic, q.name AS queue, s.pattern
  FROM mq.objects t
  LEFT JOIN mq.subscriptions s ON s.topic = t.id
  LEFT JOIN mq.objects q ON q.id = s.queue
 WHERE t.kind = 't' AND mq.visible(t.owner, t.senders, t.readers, t.managers);

CREATE OR REPLACE VIEW mq_groups WITH (security_barrier) AS
SELECT o.name AS stream, f.consumer_group, f.partition, f."position", f.lag
  FROM mq.objects o
 CROSS JOIN LATERAL mq.group_figures(o.name) f
 WHERE o.kind = 's' AND mq.visible(o.owner, o.senders, o.readers, o.managers);

CREATE OR REPLACE VIEW mq_streams WITH (security_barrier) AS
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

CREATE OR REPLACE VIEW mq_grants WITH (security_barrier) AS
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

DROP FUNCTION mq.visible(regrole, aclitem[]);
DROP TRIGGER objects_dependencies ON mq.objects;
ALTER TABLE mq.objects DROP COLUMN acl;
CREATE TRIGGER objects_dependencies
    AFTER INSERT OR UPDATE OF id, owner, senders, readers, managers OR DELETE ON mq.objects
    FOR EACH ROW EXECUTE FUNCTION mq.objects_dependencies();

-- The pg_shdepend rows of owners and grantees, from the new columns.
UPDATE mq.objects SET owner = owner;

-- mq_ack with a parameter sent without a type.
CREATE FUNCTION mq_ack(queue text, receipt text, strict boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_ack_text';

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

-- mq_message shows the queue's max_deliveries; mq_nack keeps a reason;
-- mq_redrive picks letters by source queue or id.
ALTER TYPE mq_message ADD ATTRIBUTE max_deliveries int;
ALTER TYPE mq_message ADD ATTRIBUTE group_key text;

DROP FUNCTION mq_nack(text, bigint, interval, boolean);
CREATE FUNCTION mq_nack(
    queue text,
    receipt bigint,
    delay interval DEFAULT NULL,
    strict boolean DEFAULT true,
    reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_nack';

DROP FUNCTION mq_redrive(text, bigint);
CREATE FUNCTION mq_redrive(
    dead_letter_queue text,
    max bigint DEFAULT NULL,
    source_queue text DEFAULT NULL,
    ids bigint[] DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_redrive';

-- mq_queues counts delayed messages through a partial index on each queue's
-- storage instead of reading every row; messages get a group key.
DO $$
DECLARE
    q int;
BEGIN
    FOR q IN SELECT id FROM mq.queues LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS q_%s_delayed ON mq.q_%s (visible_at)'
                       ' WHERE visible_at > enqueued_at', q, q);
        -- Message groups: each message's group, the state of its promotion
        -- into its group's window, and each group's messages in id order
        -- (by a hash of the key: fixed-width entries).
        EXECUTE format('ALTER TABLE mq.q_%s ADD COLUMN IF NOT EXISTS group_key text,'
                       ' ADD COLUMN IF NOT EXISTS promotion int8', q);
        EXECUTE format('CREATE INDEX IF NOT EXISTS q_%s_groups ON mq.q_%s (pg_catalog.hashtext(group_key), id)'
                       ' WHERE group_key IS NOT NULL', q, q);
    END LOOP;
END
$$;

-- The options of message groups, the rate limit and the retry policy, appended to mq_create_queue and
-- mq_alter_queue; EXECUTE granted on the old mq_create_queue is granted on
-- the new one.
SELECT pg_catalog.set_config('mq_update.create_grants',
       coalesce(pg_catalog.string_agg(pg_catalog.format('%s%s',
                  a.grantee::regrole, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
                  ','), ''), true)
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.oid = 'mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean)'::regprocedure
   AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0;

DROP FUNCTION mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean);
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
REVOKE ALL ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean) FROM PUBLIC;

DO $$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY pg_catalog.string_to_array(
            pg_catalog.current_setting('mq_update.create_grants'), ',') LOOP
        EXECUTE 'GRANT EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval,'
                ' bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean) TO ' || g;
    END LOOP;
END
$$;

DROP FUNCTION mq_alter_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, text[]);
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

-- Message groups (SPEC section 3a): a group key on send, batch send and
-- publish, appended to each.
DROP FUNCTION mq_send(text, jsonb, jsonb, interval, int, text);
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

DROP FUNCTION mq_send_batch(text, jsonb[], jsonb[], interval, int, text[]);
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

DROP FUNCTION mq_publish(text, text, jsonb, jsonb, text);
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
GRANT SELECT ON mq_message_groups TO PUBLIC;

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

-- mq_read acks the previous batch first (ack) and can take only messages
-- whose body contains a jsonb (filter).
DROP FUNCTION mq_read(text, int, interval, interval);
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
