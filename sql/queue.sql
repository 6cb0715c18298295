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
    owner       oid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
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
    unlogged            boolean NOT NULL
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

SELECT pg_catalog.pg_extension_config_dump('mq.objects', '');
SELECT pg_catalog.pg_extension_config_dump('mq.topics', '');
SELECT pg_catalog.pg_extension_config_dump('mq.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('mq.queues', '');
SELECT pg_catalog.pg_extension_config_dump('mq.object_id_seq', '');

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
    visible_at  timestamptz
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
    if_not_exists boolean DEFAULT false)
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
    reset text[] DEFAULT NULL)
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
    idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_send';

CREATE FUNCTION mq_send_batch(
    queue text,
    bodies jsonb[],
    headers jsonb[] DEFAULT NULL,
    delay interval DEFAULT '0',
    priority int DEFAULT 0,
    idempotency_keys text[] DEFAULT NULL)
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
    wait interval DEFAULT '0')
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

CREATE FUNCTION mq_nack(
    queue text,
    receipt bigint,
    delay interval DEFAULT '0',
    strict boolean DEFAULT true)
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

CREATE FUNCTION mq_redrive(dead_letter_queue text, max bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_redrive';

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
    idempotency_key text DEFAULT NULL)
RETURNS int
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_publish';

/* ---------------------------------------------------------------------
 * Inspection
 * ---------------------------------------------------------------------
 */

CREATE FUNCTION mq.queue_figures(
    queue text,
    OUT depth bigint,
    OUT ready bigint,
    OUT inflight bigint,
    OUT delayed bigint,
    OUT oldest_ready_age interval)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_queue_figures';

CREATE VIEW mq_queues AS
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
       o.created_at
  FROM mq.objects o
  JOIN mq.queues q ON q.id = o.id
  LEFT JOIN mq.objects d ON d.id = q.dead_letter_queue
 CROSS JOIN LATERAL mq.queue_figures(o.name) f
 WHERE o.kind = 'q';

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
CREATE VIEW mq_stats AS
SELECT o.name AS queue, s.*
  FROM mq.objects o
 CROSS JOIN LATERAL mq.queue_stats(o.name) s
 WHERE o.kind = 'q';

CREATE FUNCTION mq_stats_reset(queue text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_stats_reset';

-- One row per subscription; a topic without any shows once, with NULLs.
CREATE VIEW mq_topics AS
SELECT t.name AS topic, q.name AS queue, s.pattern
  FROM mq.objects t
  LEFT JOIN mq.subscriptions s ON s.topic = t.id
  LEFT JOIN mq.objects q ON q.id = s.queue
 WHERE t.kind = 't';

/* ---------------------------------------------------------------------
 * Privileges (SPEC section 8): creating objects is granted deliberately.
 * ---------------------------------------------------------------------
 */

REVOKE ALL ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION mq_create_topic(text, interval, boolean) FROM PUBLIC;
