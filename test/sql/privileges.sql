-- Privileges (SPEC section 8): creating needs EXECUTE granted by a DBA;
-- the creator owns; others hold what mq_grant gives them; views show each
-- role only what it may see; storage is closed; roles cannot be dropped
-- while objects depend on them.
CREATE ROLE mq_owner;
CREATE ROLE mq_sender;
CREATE ROLE mq_reader;
CREATE ROLE mq_manager;
CREATE ROLE mq_nobody;
CREATE ROLE mq_team;
GRANT mq_owner TO mq_team;
GRANT EXECUTE ON FUNCTION
    mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean),
    mq_create_topic(text, interval, boolean),
    mq_create_stream(text, int, interval, bigint, bigint, interval, boolean)
  TO mq_owner;

-- Without the grant, creating anything is refused.
SET ROLE mq_nobody;
\set VERBOSITY sqlstate
SELECT mq_create_queue('p_nope');
SELECT mq_create_topic('p_nope');
SELECT mq_create_stream('p_nope');
\set VERBOSITY default
RESET ROLE;

-- The creator owns, and may do everything.
SET ROLE mq_owner;
-- (A chain of dead-letter queues, p_q -> p_dead -> p_a, for DROP OWNED.)
SELECT mq_create_queue('p_a');
SELECT mq_create_queue('p_dead', dead_letter_queue => 'p_a');
SELECT mq_create_queue('p_q', dead_letter_queue => 'p_dead', max_deliveries => 1);
SELECT mq_create_topic('p_t');
SELECT mq_create_stream('p_s', partitions => 2);
SELECT mq_send('p_q', '{"n": 1}') > 0 AS sent;
SELECT count(*) FROM mq_peek('p_q');
SELECT mq_subscribe('p_t', 'p_q');
SELECT mq_publish('p_t', 'k', '{"n": 2}');
SELECT count(*) FROM mq_append('p_s', '{"r": 1}', key => 'a');
SELECT mq_create_group('p_s', 'g');
SELECT owner, grantee, privileges FROM mq_grants WHERE object = 'p_q';
RESET ROLE;

-- Every operation is refused to a role without grants (42501), and the
-- message says what is missing.
SET ROLE mq_nobody;
SELECT mq_send('p_q', '{}');
\set VERBOSITY sqlstate
SELECT mq_send_batch('p_q', ARRAY['{}']::jsonb[]);
SELECT mq_read('p_q');
SELECT mq_pop('p_q');
SELECT mq_peek('p_q');
SELECT mq_ack('p_q', 1);
SELECT mq_ack('p_q', ARRAY[1]::bigint[]);
SELECT mq_nack('p_q', 1);
SELECT mq_extend('p_q', 1, '1 minute');
SELECT mq_purge('p_q');
SELECT mq_redrive('p_dead');
SELECT mq_alter_queue('p_q', max_deliveries => 5);
SELECT mq_drop_queue('p_q');
SELECT mq_drop_queue('p_q', if_exists => true);
SELECT mq_publish('p_t', 'k', '{}');
SELECT mq_subscribe('p_t', 'p_q', 'x');
SELECT mq_unsubscribe('p_t', 'p_q');
SELECT mq_drop_topic('p_t');
SELECT mq_append('p_s', '{}');
SELECT mq_append_batch('p_s', ARRAY['{}']::jsonb[]);
SELECT mq_stream_read('p_s', 0, 0);
SELECT mq_consume('p_s', 'g');
SELECT mq_create_group('p_s', 'mine');
SELECT mq_drop_group('p_s', 'g');
SELECT mq_seek('p_s', 'g', 0, 0);
SELECT mq_seek('p_s', 'g', now());
SELECT mq_alter_stream('p_s', max_messages => 10);
SELECT mq_drop_stream('p_s');
SELECT mq_stats_reset('p_q');
SELECT mq_grant('p_q', 'mq_nobody', '{send}');
SELECT mq_revoke('p_q', 'mq_nobody');
-- Storage is closed: the schema, and so every table in it.
SELECT count(*) FROM mq.objects;
SELECT count(*) FROM mq.q_1;
INSERT INTO mq.objects VALUES (999, 'x', 'q', 'mq_nobody', now(), NULL);
\set VERBOSITY default
-- The views list nothing it may not see; statistics reset quietly skip.
SELECT count(*) FROM mq_queues;
SELECT count(*) FROM mq_topics;
SELECT count(*) FROM mq_streams;
SELECT count(*) FROM mq_groups;
SELECT count(*) FROM mq_stats;
SELECT count(*) FROM mq_grants;
SELECT mq_stats_reset();
RESET ROLE;
-- Members of pg_monitor see the figures of every object, and no message.
GRANT pg_monitor TO mq_nobody;
SET ROLE mq_nobody;
SELECT queue, depth, last_id FROM mq_queues WHERE queue LIKE 'p\_%' ORDER BY queue;
SELECT stream, consumer_group, partition FROM mq_groups WHERE stream = 'p_s' ORDER BY 2, 3;
\set VERBOSITY sqlstate
SELECT mq_peek('p_q');
\set VERBOSITY default
RESET ROLE;
REVOKE pg_monitor FROM mq_nobody;

-- send: send, publish, append; nothing else.
SELECT mq_grant('p_q', 'mq_sender', '{send}');
SELECT mq_grant('p_t', 'mq_sender', ARRAY['send']);
SELECT mq_grant('p_s', 'mq_sender', '{send}');
SET ROLE mq_sender;
SELECT mq_send('p_q', '{"n": 3}') > 0 AS sent;
SELECT count(*) FROM mq_send_batch('p_q', ARRAY['{"n": 4}']::jsonb[]);
SELECT mq_publish('p_t', 'k', '{"n": 5}');
SELECT count(*) FROM mq_append('p_s', '{"r": 2}');
\set VERBOSITY sqlstate
SELECT mq_read('p_q');
SELECT mq_consume('p_s', 'g');
SELECT mq_purge('p_q');
SELECT mq_grant('p_q', 'mq_reader', '{send}');
\set VERBOSITY default
-- It sees what it holds a grant on.
SELECT queue, depth FROM mq_queues ORDER BY queue;
SELECT topic, queue FROM mq_topics ORDER BY topic;
SELECT DISTINCT stream FROM mq_streams;
SELECT object, grantee, privileges FROM mq_grants ORDER BY object;
RESET ROLE;

-- read: read, pop, peek, ack, nack, extend, consume, stream_read, and
-- creating a consumer group.
SELECT mq_grant('p_q', 'mq_reader', '{read}');
SELECT mq_grant('p_s', 'mq_reader', '{read}');
SET ROLE mq_reader;
SELECT count(*) FROM mq_peek('p_q');
SELECT body, mq_ack('p_q', receipt) FROM mq_read('p_q', 1);
SELECT body, mq_nack('p_q', receipt) FROM mq_read('p_q', 1);
SELECT body, mq_extend('p_q', receipt, '1 minute') FROM mq_read('p_q', 1);
SELECT count(*) FROM mq_pop('p_q', 1);
SELECT count(*) FROM mq_stream_read('p_s', 0, 0);
SELECT mq_create_group('p_s', 'readers');
SELECT body FROM mq_consume('p_s', 'readers');
\set VERBOSITY sqlstate
SELECT mq_send('p_q', '{}');
SELECT mq_seek('p_s', 'readers', 0, 0);
SELECT mq_drop_group('p_s', 'readers');
\set VERBOSITY default
SELECT DISTINCT stream, consumer_group FROM mq_groups ORDER BY 2;
RESET ROLE;

-- manage: alter, purge, subscribe (with send on the queue), seek, drop,
-- and granting send and read, but not manage.
SELECT mq_grant('p_t', 'mq_manager', '{manage}');
SELECT mq_grant('p_q', 'mq_manager', '{manage}');
SELECT mq_grant('p_s', 'mq_manager', '{manage}');
SET ROLE mq_manager;
SELECT mq_alter_queue('p_q', max_deliveries => 3);
SELECT mq_alter_stream('p_s', max_messages => 100);
SELECT mq_seek('p_s', 'g', 0, 0);
SELECT mq_stats_reset('p_q');
SELECT mq_grant('p_q', 'mq_nobody', '{read}');
SELECT mq_revoke('p_q', 'mq_nobody', '{read}');
SELECT mq_grant('p_q', 'mq_nobody', '{manage}');
SELECT mq_grant('p_q', 'mq_nobody', '{all}');
SELECT mq_revoke('p_q', 'mq_sender', '{manage}');
-- Subscribing sends to the queue: manage on the topic alone is not
-- enough; manage on the queue too is (a manage holder has send and read).
SELECT mq_subscribe('p_t', 'p_dead', 'x');
SELECT mq_subscribe('p_t', 'p_q', 'x.#');
SELECT mq_unsubscribe('p_t', 'p_q', 'x.#');
-- A dead-letter queue is sent to: naming one needs send on it.
SELECT mq_alter_queue('p_q', dead_letter_queue => 'p_dead');
RESET ROLE;

-- Members of the owner's role act as the owner; superusers bypass.
SET ROLE mq_team;
SELECT mq_grant('p_q', 'mq_nobody', '{manage}');
SELECT mq_revoke('p_q', 'mq_nobody');
SELECT count(*) FROM mq_queues WHERE queue LIKE 'p\_%';
RESET ROLE;
SELECT count(*) > 0 AS superuser_reads FROM mq_peek('p_q');

-- A SECURITY DEFINER function acts with its owner's privileges.
CREATE FUNCTION p_send_as_owner(n int) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT mq_send('p_q', jsonb_build_object('n', n)) $$;
ALTER FUNCTION p_send_as_owner(int) OWNER TO mq_owner;
SET ROLE mq_nobody;
SELECT p_send_as_owner(6) > 0 AS sent_through_definer;
RESET ROLE;

-- Revoking takes effect at once, in this backend too (the cache is told).
SELECT mq_revoke('p_q', 'mq_sender', '{send}');
SET ROLE mq_sender;
\set VERBOSITY sqlstate
SELECT mq_send('p_q', '{}');
\set VERBOSITY default
RESET ROLE;

-- Bad arguments.
\set VERBOSITY sqlstate
SELECT mq_grant('p_q', 'mq_sender', '{write}');
SELECT mq_grant('p_q', 'mq_sender', ARRAY[NULL]::text[]);
SELECT mq_grant('p_q', 'mq_sender', NULL);
SELECT mq_grant('p_q', NULL, '{send}');
SELECT mq_grant(NULL, 'mq_sender', '{send}');
SELECT mq_grant('p nope', 'mq_sender', '{send}');
SELECT mq_grant('p_nope', 'mq_sender', '{send}');
SELECT mq_grant('p_q', 0::oid::regrole, '{send}');
SELECT mq_grant('p_q', 'no_such_role', '{send}');
\set VERBOSITY default
SELECT mq_grant('p_q', 'mq_sender', '{}');
SELECT mq_revoke('p_q', 'mq_nobody');

-- Grants are ACLs backed by pg_shdepend: no role can be dropped while it
-- owns or holds a grant on an object.
SELECT refobjid::regrole AS role, count(*)
  FROM pg_shdepend
 WHERE classid = 'pg_extension'::regclass AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 GROUP BY 1 ORDER BY 1::text;
DROP ROLE mq_reader;
DROP ROLE mq_owner;
-- DROP OWNED revokes its grants (and drops what it owns).
DROP OWNED BY mq_reader;
DROP ROLE mq_reader;
SELECT DISTINCT object FROM mq_grants WHERE grantee::text = 'mq_reader';
-- REASSIGN OWNED hands the objects over, grants and all.
REASSIGN OWNED BY mq_owner TO mq_team;
SELECT object, owner FROM mq_grants WHERE object LIKE 'p\_%' GROUP BY 1, 2 ORDER BY 1;
DROP FUNCTION p_send_as_owner(int);
REVOKE EXECUTE ON FUNCTION
    mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean),
    mq_create_topic(text, interval, boolean),
    mq_create_stream(text, int, interval, bigint, bigint, interval, boolean)
  FROM mq_owner;
DROP ROLE mq_owner;
SET ROLE mq_team;
SELECT mq_send('p_q', '{"n": 7}') > 0 AS new_owner_sends;
RESET ROLE;
-- The objects mq_team owns go with DROP OWNED, from the start of the
-- dead-letter chain.
DROP OWNED BY mq_team;
SELECT count(*) FROM mq_grants WHERE object LIKE 'p\_%';
DROP ROLE mq_team, mq_sender, mq_manager, mq_nobody;
SELECT count(*) AS dependencies_left
  FROM pg_shdepend
 WHERE classid = 'pg_extension'::regclass AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database());
