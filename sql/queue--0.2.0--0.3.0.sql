/*
 * queue 0.2.0 -> 0.3.0: privileges (SPEC section 8).
 *
 * mq.objects gains acl (grants) and its owner becomes a regrole, so that
 * pg_dump writes role names; owners and grantees are recorded in
 * pg_shdepend by a trigger; mq_grant, mq_revoke and the mq_grants view are
 * new; the views show only the objects the caller may see; mq_version()
 * says which library is loaded.
 */

\echo Use "ALTER EXTENSION queue UPDATE TO '0.3.0'" to load this file. \quit

ALTER TABLE mq.objects ALTER COLUMN owner TYPE regrole;
ALTER TABLE mq.objects ADD COLUMN acl aclitem[];

CREATE FUNCTION mq.objects_dependencies() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mq_objects_dependencies';
CREATE TRIGGER objects_dependencies
    AFTER INSERT OR UPDATE OF id, owner, acl OR DELETE ON mq.objects
    FOR EACH ROW EXECUTE FUNCTION mq.objects_dependencies();

-- The owners of existing objects get their pg_shdepend rows.
UPDATE mq.objects SET owner = owner;

CREATE FUNCTION mq.visible(owner regrole, acl aclitem[])
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_visible';

-- The version of the loaded library; pg_extension.extversion is that of
-- the SQL objects (they differ until ALTER EXTENSION queue UPDATE runs).
CREATE FUNCTION mq_version()
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mq_version';

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
       o.created_at
  FROM mq.objects o
  JOIN mq.queues q ON q.id = o.id
  LEFT JOIN mq.objects d ON d.id = q.dead_letter_queue
 CROSS JOIN LATERAL mq.queue_figures(o.name) f
 WHERE o.kind = 'q' AND mq.visible(o.owner, o.acl);

CREATE OR REPLACE VIEW mq_stats WITH (security_barrier) AS
SELECT o.name AS queue, s.*
  FROM mq.objects o
 CROSS JOIN LATERAL mq.queue_stats(o.name) s
 WHERE o.kind IN ('q', 's') AND mq.visible(o.owner, o.acl);

CREATE OR REPLACE VIEW mq_topics WITH (security_barrier) AS
SELECT t.name AS topic, q.name AS queue, s.pattern
  FROM mq.objects t
  LEFT JOIN mq.subscriptions s ON s.topic = t.id
  LEFT JOIN mq.objects q ON q.id = s.queue
 WHERE t.kind = 't' AND mq.visible(t.owner, t.acl);

CREATE OR REPLACE VIEW mq_groups WITH (security_barrier) AS
SELECT o.name AS stream, f.consumer_group, f.partition, f."position", f.lag
  FROM mq.objects o
 CROSS JOIN LATERAL mq.group_figures(o.name) f
 WHERE o.kind = 's' AND mq.visible(o.owner, o.acl);

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
 WHERE o.kind = 's' AND mq.visible(o.owner, o.acl);

CREATE FUNCTION mq_grant(name text, role regrole, privileges text[])
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_grant';

CREATE FUNCTION mq_revoke(name text, role regrole, privileges text[] DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mq_revoke';

CREATE VIEW mq_grants WITH (security_barrier) AS
SELECT o.name AS object,
       CASE o.kind WHEN 'q' THEN 'queue' WHEN 't' THEN 'topic' ELSE 'stream' END AS kind,
       o.owner,
       g.grantee,
       g.privileges
  FROM mq.objects o
  LEFT JOIN LATERAL (
        SELECT a.grantee::regrole AS grantee,
               array_agg(CASE a.privilege_type
                           WHEN 'INSERT' THEN 'send'
                           WHEN 'SELECT' THEN 'read'
                           ELSE 'manage' END
                         ORDER BY CASE a.privilege_type
                           WHEN 'INSERT' THEN 1 WHEN 'SELECT' THEN 2 ELSE 3 END) AS privileges
          FROM pg_catalog.aclexplode(o.acl) a
         GROUP BY a.grantee) g ON true
 WHERE mq.visible(o.owner, o.acl);

-- The views show each caller only what it may see.
GRANT SELECT ON mq_queues, mq_stats, mq_topics, mq_streams, mq_groups, mq_grants TO PUBLIC;
