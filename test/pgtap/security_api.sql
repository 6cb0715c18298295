-- SPEC section 8 as the catalog shows it: mq_grant and mq_revoke with
-- their signatures, EXECUTE on the create functions revoked from PUBLIC,
-- no SECURITY DEFINER function, storage closed to PUBLIC and owned by the
-- extension's owner, views open to PUBLIC (they filter by privilege).
BEGIN;
SELECT plan(12);

SELECT is(pg_get_function_arguments('mq_grant(text,regrole,text[])'::regprocedure),
    'name text, role regrole, privileges text[]', 'mq_grant arguments');
SELECT is(pg_get_function_result('mq_grant(text,regrole,text[])'::regprocedure),
    'void', 'mq_grant returns void');
SELECT is(pg_get_function_arguments('mq_revoke(text,regrole,text[])'::regprocedure),
    'name text, role regrole, privileges text[] DEFAULT NULL::text[]', 'mq_revoke arguments');
SELECT is(pg_get_function_result('mq_revoke(text,regrole,text[])'::regprocedure),
    'void', 'mq_revoke returns void');

SELECT results_eq(
    $$SELECT p.oid::regprocedure::text
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'mq\_%'
         AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
       ORDER BY 1$$,
    $$VALUES
        ('mq_create_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,boolean,integer,double precision,interval,text,interval,double precision,boolean,boolean)'),
        ('mq_create_stream(text,integer,interval,bigint,bigint,interval,boolean)'),
        ('mq_create_topic(text,interval,boolean)')$$,
    'EXECUTE is revoked from PUBLIC on the create functions, and only on them');

SELECT is_empty(
    $$SELECT p.oid::regprocedure::text
        FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
       WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
         AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'queue')
         AND p.prosecdef$$,
    'no function of the extension is SECURITY DEFINER');

SELECT ok(NOT has_schema_privilege('public', 'mq', 'USAGE'), 'PUBLIC has no USAGE on schema mq');
SELECT ok(NOT has_schema_privilege('public', 'mq', 'CREATE'), 'PUBLIC has no CREATE on schema mq');

-- Objects of every kind, then their storage.
SELECT mq_create_queue('sec_q');
SELECT mq_create_topic('sec_t');
SELECT mq_create_stream('sec_s');
SELECT is_empty(
    $$SELECT c.oid::regclass::text FROM pg_class c
       WHERE c.relnamespace = 'mq'::regnamespace
         AND c.relowner <> (SELECT extowner FROM pg_extension WHERE extname = 'queue')$$,
    'every relation in schema mq belongs to the extension''s owner');
SELECT is_empty(
    $$SELECT c.oid::regclass::text FROM pg_class c
       WHERE c.relnamespace = 'mq'::regnamespace AND c.relkind IN ('r', 'S')
         AND (has_table_privilege('public', c.oid, 'SELECT')
              OR has_table_privilege('public', c.oid, 'INSERT'))$$,
    'no table in schema mq is readable or writable by PUBLIC');

SELECT results_eq(
    $$SELECT c.oid::regclass::text FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
         AND c.relname LIKE 'mq\_%' AND has_table_privilege('public', c.oid, 'SELECT')
       ORDER BY 1$$,
    $$VALUES ('mq_grants'), ('mq_groups'), ('mq_message_groups'), ('mq_queues'), ('mq_schedules'), ('mq_stats'), ('mq_streams'), ('mq_topics')$$,
    'every view is readable by PUBLIC');
SELECT is_empty(
    $$SELECT c.relname FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
         AND c.relname LIKE 'mq\_%' AND pg_get_viewdef(c.oid) NOT LIKE '%mq.visible(%'$$,
    'every view filters by mq.visible');

SELECT * FROM finish();
ROLLBACK;
