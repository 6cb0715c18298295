-- The schedule API matches SPEC section 10 exactly: argument names, types
-- and defaults, return types, not STRICT (a NULL argument is checked by the
-- function), EXECUTE for PUBLIC (creating needs send on the target), and
-- the columns of mq_schedules in the order the section gives.
BEGIN;
SELECT plan(12);

SELECT results_eq(
    $$SELECT p.oid::regprocedure::text
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_create_schedule', 'mq_alter_schedule', 'mq_drop_schedule',
                           'mq_cron_next')
       ORDER BY 1$$,
    $$VALUES
        ('mq_alter_schedule(text,text,jsonb,jsonb,text,boolean,boolean)'),
        ('mq_create_schedule(text,text,text,jsonb,jsonb,text,text,boolean,boolean)'),
        ('mq_cron_next(text,text,timestamp with time zone,integer)'),
        ('mq_drop_schedule(text,boolean)')$$,
    'the section 10 functions exist once each, with these argument types');

SELECT is(pg_get_function_arguments('mq_create_schedule(text,text,text,jsonb,jsonb,text,text,boolean,boolean)'::regprocedure),
    'schedule text, cron text, target text, body jsonb, headers jsonb DEFAULT NULL::jsonb, '
    'routing_key text DEFAULT NULL::text, timezone text DEFAULT ''UTC''::text, '
    'catch_up boolean DEFAULT false, if_not_exists boolean DEFAULT false',
    'mq_create_schedule arguments');
SELECT is(pg_get_function_arguments('mq_alter_schedule(text,text,jsonb,jsonb,text,boolean,boolean)'::regprocedure),
    'schedule text, cron text DEFAULT NULL::text, body jsonb DEFAULT NULL::jsonb, '
    'headers jsonb DEFAULT NULL::jsonb, timezone text DEFAULT NULL::text, '
    'catch_up boolean DEFAULT NULL::boolean, paused boolean DEFAULT NULL::boolean',
    'mq_alter_schedule arguments');
SELECT is(pg_get_function_arguments('mq_drop_schedule(text,boolean)'::regprocedure),
    'schedule text, if_exists boolean DEFAULT false',
    'mq_drop_schedule arguments');
SELECT is(pg_get_function_arguments('mq_cron_next(text,text,timestamp with time zone,integer)'::regprocedure),
    'cron text, timezone text DEFAULT ''UTC''::text, '
    'after timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'count integer DEFAULT 1',
    'mq_cron_next arguments');

SELECT results_eq(
    $$SELECT format('%s: %s', p.proname, pg_get_function_result(p.oid)) COLLATE "default"
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_create_schedule', 'mq_alter_schedule', 'mq_drop_schedule',
                           'mq_cron_next')
       ORDER BY 1$$,
    $$VALUES ('mq_alter_schedule: void'), ('mq_create_schedule: void'),
             ('mq_cron_next: SETOF timestamp with time zone'),
             ('mq_drop_schedule: boolean')$$,
    'return types');

SELECT is_empty(
    $$SELECT proname FROM pg_proc
       WHERE pronamespace = 'public'::regnamespace AND proisstrict
         AND proname IN ('mq_create_schedule', 'mq_alter_schedule', 'mq_drop_schedule', 'mq_cron_next')$$,
    'no schedule function is STRICT');
SELECT ok(has_function_privilege('public',
    'mq_create_schedule(text,text,text,jsonb,jsonb,text,text,boolean,boolean)', 'EXECUTE'),
    'PUBLIC may execute mq_create_schedule (it checks send on the target)');
SELECT ok(has_function_privilege('public', 'mq_drop_schedule(text,boolean)', 'EXECUTE'),
    'PUBLIC may execute mq_drop_schedule (it checks the owner)');

SELECT results_eq(
    $$SELECT attname::text COLLATE "default" FROM pg_attribute
       WHERE attrelid = 'mq_schedules'::regclass AND attnum BETWEEN 1 AND 10
       ORDER BY attnum$$,
    $$VALUES ('schedule'), ('owner'), ('cron'), ('timezone'), ('target'), ('paused'),
             ('next_run'), ('last_run'), ('runs'), ('last_error')$$,
    'mq_schedules begins with the columns of section 10, in order');
SELECT ok(has_table_privilege('public', 'mq_schedules', 'SELECT'),
    'mq_schedules is readable by PUBLIC');
SELECT ok(NOT has_table_privilege('public', 'mq.schedules', 'SELECT'),
    'the catalog table is not');

SELECT * FROM finish();
ROLLBACK;
