-- Privileges against a hostile caller (SPEC sections 4, 6, 8): the views
-- leak nothing to a cheap function in the caller's WHERE clause; DROP ROLE
-- and DROP EXTENSION tell a caller who may not run them nothing about our
-- objects; a binding needs send on the queue and read on the topic; a
-- holder of manage revokes what it may; the caller's default_tablespace
-- and default_table_access_method do not steer the extension's storage.
CREATE ROLE h_owner;
CREATE ROLE h_peer;
CREATE ROLE h_nobody;
GRANT EXECUTE ON FUNCTION
    mq_create_queue(text, interval, int, text, interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8, boolean, boolean),
    mq_create_topic(text, interval, boolean),
    mq_create_stream(text, int, interval, bigint, bigint, interval, boolean)
  TO h_owner;
SET ROLE h_owner;
SELECT mq_create_queue('h_secret_queue');
SELECT mq_create_queue('h_shared_queue');
SELECT mq_create_topic('h_topic');
SELECT mq_create_stream('h_secret_stream');
SELECT mq_send('h_secret_queue', '{"n": 1}') > 0 AS sent;
SELECT mq_grant('h_shared_queue', 'h_nobody', '{send}');
RESET ROLE;

-- Views are security barriers: a function with a tiny cost in the caller's
-- WHERE sees only the rows the caller may see.
SET ROLE h_nobody;
CREATE FUNCTION pg_temp.leak(VARIADIC text[]) RETURNS boolean
    LANGUAGE plpgsql COST 0.0000001
    AS $$ BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END $$;
SELECT queue FROM mq_queues WHERE pg_temp.leak(queue, dead_letter_queue) AND queue LIKE 'h\_%';
SELECT stream FROM mq_streams WHERE pg_temp.leak(stream) AND stream LIKE 'h\_%';
SELECT topic FROM mq_topics WHERE pg_temp.leak(topic) AND topic LIKE 'h\_%';
SELECT queue FROM mq_stats WHERE pg_temp.leak(queue) AND queue LIKE 'h\_%';
SELECT stream FROM mq_groups WHERE pg_temp.leak(stream) AND stream LIKE 'h\_%';
SELECT object FROM mq_grants WHERE pg_temp.leak(object, owner::text) AND object LIKE 'h\_%';
SELECT relname, (reloptions @> '{security_barrier=true}') AS barrier
  FROM pg_class
 WHERE relname IN ('mq_queues', 'mq_streams', 'mq_topics', 'mq_stats', 'mq_groups', 'mq_grants')
 ORDER BY relname;

-- DROP ROLE and DROP EXTENSION by a role that may not run them: core's
-- 42501, not a list of our objects.
\set VERBOSITY sqlstate
DROP ROLE h_owner;
DROP EXTENSION queue;
\set VERBOSITY default
RESET ROLE;
-- A caller who may run them still learns why they cannot go.
\set VERBOSITY sqlstate
DROP ROLE h_owner;
\set VERBOSITY default

-- A binding (subscribe, unsubscribe) needs send on the queue and read on
-- the topic; manage or ownership gives both.
SET ROLE h_owner;
SELECT mq_grant('h_topic', 'h_peer', '{send}');
SELECT mq_grant('h_secret_queue', 'h_peer', '{send}');
RESET ROLE;
SET ROLE h_peer;
SELECT mq_subscribe('h_topic', 'h_secret_queue');
RESET ROLE;
SELECT mq_grant('h_topic', 'h_peer', '{read}');
SELECT mq_revoke('h_secret_queue', 'h_peer', '{send}');
SET ROLE h_peer;
SELECT mq_subscribe('h_topic', 'h_secret_queue');
RESET ROLE;
SELECT mq_grant('h_secret_queue', 'h_peer', '{send}');
SET ROLE h_peer;
SELECT mq_subscribe('h_topic', 'h_secret_queue', 'a.*');
SELECT mq_publish('h_topic', 'a.b', '{"via": "binding"}');
SELECT mq_unsubscribe('h_topic', 'h_secret_queue');
RESET ROLE;
SELECT mq_revoke('h_topic', 'h_peer');
SELECT mq_revoke('h_secret_queue', 'h_peer');
SELECT mq_grant('h_topic', 'h_peer', '{manage}');
SELECT mq_grant('h_secret_queue', 'h_peer', '{manage}');
SET ROLE h_peer;
SELECT mq_subscribe('h_topic', 'h_secret_queue', 'm.#');
SELECT mq_unsubscribe('h_topic', 'h_secret_queue', 'm.#');
RESET ROLE;

-- mq_revoke(name, role) by a holder of manage: send and read go, a
-- warning says manage stays (only the owner revokes it).
SELECT mq_grant('h_shared_queue', 'h_peer', '{manage}');
SELECT mq_grant('h_shared_queue', 'h_owner', '{read}');
SELECT mq_grant('h_shared_queue', 'h_nobody', '{read}');
SELECT grantee, privileges FROM mq_grants WHERE object = 'h_shared_queue' ORDER BY 1::text;
SET ROLE h_peer;
SELECT mq_revoke('h_shared_queue', 'h_nobody');
SELECT mq_grant('h_shared_queue', 'h_peer', '{send}');
SELECT mq_revoke('h_shared_queue', 'h_peer');
RESET ROLE;
SELECT grantee, privileges FROM mq_grants WHERE object = 'h_shared_queue' ORDER BY 1::text;

-- Storage goes where the extension puts it, whatever the caller sets.
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE h_space LOCATION '';
RESET allow_in_place_tablespaces;
CREATE ACCESS METHOD h_heap TYPE TABLE HANDLER heap_tableam_handler;
SET ROLE h_owner;
SET default_tablespace = h_space;
SET default_table_access_method = h_heap;
SELECT mq_create_queue('h_placed');
SELECT mq_create_stream('h_placed_stream');
RESET default_tablespace;
RESET default_table_access_method;
RESET ROLE;
SELECT count(*) FILTER (WHERE c.reltablespace <> 0) AS in_other_tablespace,
       count(*) FILTER (WHERE c.relkind = 'r' AND c.relam <> (SELECT oid FROM pg_am WHERE amname = 'heap')) AS not_heap,
       count(*) > 0 AS has_storage
  FROM pg_class c
 WHERE c.relnamespace = 'mq'::regnamespace
   AND c.relname ~ ('^[qs]_(' || (SELECT string_agg(id::text, '|') FROM mq.objects
                                  WHERE name IN ('h_placed', 'h_placed_stream')) || ')(_|$)');
SELECT mq_send('h_placed', '{"stored": true}') > 0 AS sent;
SELECT body FROM mq_pop('h_placed');

DROP OWNED BY h_owner, h_peer, h_nobody;
DROP TABLESPACE h_space;
DROP ACCESS METHOD h_heap;
DROP ROLE h_owner, h_peer, h_nobody;
