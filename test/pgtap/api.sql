-- The public queue API matches SPEC section 3 exactly: argument names,
-- types and defaults, return types, the mq_message type, not STRICT, and
-- EXECUTE on mq_create_queue revoked from PUBLIC.
BEGIN;
SELECT plan(48);

-- Defaults are shown in this style.
SET LOCAL IntervalStyle = 'postgres';

-- Every function of section 3 that exists, with its exact signature.  The
-- list leaves out mq_redrive (checked on its own below); it also catches
-- extra overloads of these names (say, a bytea body).
SELECT results_eq(
    $$SELECT p.oid::regprocedure::text
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_create_queue', 'mq_alter_queue', 'mq_drop_queue',
                           'mq_purge', 'mq_send', 'mq_send_batch', 'mq_read',
                           'mq_pop', 'mq_peek', 'mq_ack', 'mq_nack', 'mq_extend')
       ORDER BY 1$$,
    $$VALUES
        ('mq_ack(text,bigint,boolean)'),
        ('mq_ack(text,bigint[],boolean)'),
        ('mq_ack(text,text,boolean)'),
        ('mq_alter_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,text[],integer,double precision,interval,text,interval,double precision,boolean,boolean)'),
        ('mq_create_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,boolean,integer,double precision,interval,text,interval,double precision,boolean,boolean)'),
        ('mq_drop_queue(text,boolean)'),
        ('mq_extend(text,bigint,interval,boolean)'),
        ('mq_nack(text,bigint,interval,boolean,text)'),
        ('mq_peek(text,integer)'),
        ('mq_pop(text,integer)'),
        ('mq_purge(text)'),
        ('mq_read(text,integer,interval,interval,bigint[],jsonb)'),
        ('mq_send(text,jsonb,jsonb,interval,integer,text,text)'),
        ('mq_send_batch(text,jsonb[],jsonb[],interval,integer,text[],text[])')$$,
    'the section 3 functions exist once each, with these argument types');

-- Argument names and defaults.
SELECT is(pg_get_function_arguments('mq_create_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,boolean,integer,double precision,interval,text,interval,double precision,boolean,boolean)'::regprocedure),
    'queue text, visibility_timeout interval DEFAULT ''00:00:30''::interval, '
    'max_deliveries integer DEFAULT NULL::integer, dead_letter_queue text DEFAULT NULL::text, '
    'message_ttl interval DEFAULT NULL::interval, max_length bigint DEFAULT NULL::bigint, '
    'overflow text DEFAULT ''reject''::text, max_inflight integer DEFAULT NULL::integer, '
    'dedup_window interval DEFAULT ''1 day''::interval, unlogged boolean DEFAULT false, '
    'if_not_exists boolean DEFAULT false, max_inflight_per_group integer DEFAULT 1, '
    'rate_limit double precision DEFAULT NULL::double precision, '
    'retry_delay interval DEFAULT NULL::interval, '
    'retry_backoff text DEFAULT ''exponential''::text, '
    'retry_max_delay interval DEFAULT ''01:00:00''::interval, retry_jitter double precision DEFAULT 0, '
    'allow_null_bodies boolean DEFAULT false, lease_until_transaction_end boolean DEFAULT false',
    'mq_create_queue arguments');
SELECT is(pg_get_function_arguments('mq_alter_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,text[],integer,double precision,interval,text,interval,double precision,boolean,boolean)'::regprocedure),
    'queue text, visibility_timeout interval DEFAULT NULL::interval, '
    'max_deliveries integer DEFAULT NULL::integer, dead_letter_queue text DEFAULT NULL::text, '
    'message_ttl interval DEFAULT NULL::interval, max_length bigint DEFAULT NULL::bigint, '
    'overflow text DEFAULT NULL::text, max_inflight integer DEFAULT NULL::integer, '
    'dedup_window interval DEFAULT NULL::interval, unlogged boolean DEFAULT NULL::boolean, '
    'reset text[] DEFAULT NULL::text[], max_inflight_per_group integer DEFAULT NULL::integer, '
    'rate_limit double precision DEFAULT NULL::double precision, '
    'retry_delay interval DEFAULT NULL::interval, '
    'retry_backoff text DEFAULT NULL::text, retry_max_delay interval DEFAULT NULL::interval, '
    'retry_jitter double precision DEFAULT NULL::double precision, '
    'allow_null_bodies boolean DEFAULT NULL::boolean, '
    'lease_until_transaction_end boolean DEFAULT NULL::boolean',
    'mq_alter_queue arguments');
SELECT is(pg_get_function_arguments('mq_drop_queue(text,boolean)'::regprocedure),
    'queue text, if_exists boolean DEFAULT false',
    'mq_drop_queue arguments');
SELECT is(pg_get_function_arguments('mq_purge(text)'::regprocedure),
    'queue text',
    'mq_purge arguments');
SELECT is(pg_get_function_arguments('mq_send(text,jsonb,jsonb,interval,integer,text,text)'::regprocedure),
    'queue text, body jsonb, headers jsonb DEFAULT NULL::jsonb, '
    'delay interval DEFAULT ''00:00:00''::interval, priority integer DEFAULT 0, '
    'idempotency_key text DEFAULT NULL::text, group_key text DEFAULT NULL::text',
    'mq_send arguments');
SELECT is(pg_get_function_arguments('mq_send_batch(text,jsonb[],jsonb[],interval,integer,text[],text[])'::regprocedure),
    'queue text, bodies jsonb[], headers jsonb[] DEFAULT NULL::jsonb[], '
    'delay interval DEFAULT ''00:00:00''::interval, priority integer DEFAULT 0, '
    'idempotency_keys text[] DEFAULT NULL::text[], group_keys text[] DEFAULT NULL::text[]',
    'mq_send_batch arguments');
SELECT is(pg_get_function_arguments('mq_read(text,integer,interval,interval,bigint[],jsonb)'::regprocedure),
    'queue text, qty integer DEFAULT 1, vt interval DEFAULT NULL::interval, '
    'wait interval DEFAULT ''00:00:00''::interval, ack bigint[] DEFAULT NULL::bigint[], '
    'filter jsonb DEFAULT NULL::jsonb',
    'mq_read arguments');
SELECT is(pg_get_function_arguments('mq_pop(text,integer)'::regprocedure),
    'queue text, qty integer DEFAULT 1',
    'mq_pop arguments');
SELECT is(pg_get_function_arguments('mq_peek(text,integer)'::regprocedure),
    'queue text, qty integer DEFAULT 10',
    'mq_peek arguments');
SELECT is(pg_get_function_arguments('mq_ack(text,bigint,boolean)'::regprocedure),
    'queue text, receipt bigint, strict boolean DEFAULT true',
    'mq_ack(receipt) arguments');
SELECT is(pg_get_function_arguments('mq_ack(text,bigint[],boolean)'::regprocedure),
    'queue text, receipts bigint[], strict boolean DEFAULT true',
    'mq_ack(receipts) arguments');
SELECT is(pg_get_function_arguments('mq_ack(text,text,boolean)'::regprocedure),
    'queue text, receipt text, strict boolean DEFAULT true',
    'mq_ack(receipt text) arguments');
SELECT is(pg_get_function_arguments('mq_nack(text,bigint,interval,boolean,text)'::regprocedure),
    'queue text, receipt bigint, delay interval DEFAULT NULL::interval, '
    'strict boolean DEFAULT true, reason text DEFAULT NULL::text',
    'mq_nack arguments');
SELECT is(pg_get_function_arguments('mq_extend(text,bigint,interval,boolean)'::regprocedure),
    'queue text, receipt bigint, vt interval, strict boolean DEFAULT true',
    'mq_extend arguments');

-- Return types.
SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default", pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid)
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_create_queue', 'mq_alter_queue', 'mq_drop_queue',
                           'mq_purge', 'mq_send', 'mq_send_batch', 'mq_read',
                           'mq_pop', 'mq_peek', 'mq_ack', 'mq_nack', 'mq_extend')
       ORDER BY 1, 2$$,
    $$VALUES
        ('mq_ack', 'queue text, receipt bigint, strict boolean', 'boolean'),
        ('mq_ack', 'queue text, receipt text, strict boolean', 'boolean'),
        ('mq_ack', 'queue text, receipts bigint[], strict boolean', 'bigint'),
        ('mq_alter_queue', 'queue text, visibility_timeout interval, max_deliveries integer, dead_letter_queue text, message_ttl interval, max_length bigint, overflow text, max_inflight integer, dedup_window interval, unlogged boolean, reset text[], max_inflight_per_group integer, rate_limit double precision, retry_delay interval, retry_backoff text, retry_max_delay interval, retry_jitter double precision, allow_null_bodies boolean, lease_until_transaction_end boolean', 'void'),
        ('mq_create_queue', 'queue text, visibility_timeout interval, max_deliveries integer, dead_letter_queue text, message_ttl interval, max_length bigint, overflow text, max_inflight integer, dedup_window interval, unlogged boolean, if_not_exists boolean, max_inflight_per_group integer, rate_limit double precision, retry_delay interval, retry_backoff text, retry_max_delay interval, retry_jitter double precision, allow_null_bodies boolean, lease_until_transaction_end boolean', 'void'),
        ('mq_drop_queue', 'queue text, if_exists boolean', 'boolean'),
        ('mq_extend', 'queue text, receipt bigint, vt interval, strict boolean', 'boolean'),
        ('mq_nack', 'queue text, receipt bigint, delay interval, strict boolean, reason text', 'boolean'),
        ('mq_peek', 'queue text, qty integer', 'SETOF mq_message'),
        ('mq_pop', 'queue text, qty integer', 'SETOF mq_message'),
        ('mq_purge', 'queue text', 'bigint'),
        ('mq_read', 'queue text, qty integer, vt interval, wait interval, ack bigint[], filter jsonb', 'SETOF mq_message'),
        ('mq_send', 'queue text, body jsonb, headers jsonb, delay interval, priority integer, idempotency_key text, group_key text', 'bigint'),
        ('mq_send_batch', 'queue text, bodies jsonb[], headers jsonb[], delay interval, priority integer, idempotency_keys text[], group_keys text[]', 'SETOF bigint')$$,
    'return types');

-- None is STRICT: a NULL argument is an error, not a NULL result.
SELECT isnt_strict('public', 'mq_create_queue', ARRAY['text', 'interval', 'integer', 'text', 'interval', 'bigint', 'text', 'integer', 'interval', 'boolean', 'boolean', 'integer', 'double precision', 'interval', 'text', 'interval', 'double precision', 'boolean', 'boolean'], 'mq_create_queue is not strict');
SELECT isnt_strict('public', 'mq_alter_queue', ARRAY['text', 'interval', 'integer', 'text', 'interval', 'bigint', 'text', 'integer', 'interval', 'boolean', 'text[]', 'integer', 'double precision', 'interval', 'text', 'interval', 'double precision', 'boolean', 'boolean'], 'mq_alter_queue is not strict');
SELECT isnt_strict('public', 'mq_drop_queue', ARRAY['text', 'boolean'], 'mq_drop_queue is not strict');
SELECT isnt_strict('public', 'mq_purge', ARRAY['text'], 'mq_purge is not strict');
SELECT isnt_strict('public', 'mq_send', ARRAY['text', 'jsonb', 'jsonb', 'interval', 'integer', 'text', 'text'], 'mq_send is not strict');
SELECT isnt_strict('public', 'mq_send_batch', ARRAY['text', 'jsonb[]', 'jsonb[]', 'interval', 'integer', 'text[]', 'text[]'], 'mq_send_batch is not strict');
SELECT isnt_strict('public', 'mq_read', ARRAY['text', 'integer', 'interval', 'interval', 'bigint[]', 'jsonb'], 'mq_read is not strict');
SELECT isnt_strict('public', 'mq_pop', ARRAY['text', 'integer'], 'mq_pop is not strict');
SELECT isnt_strict('public', 'mq_peek', ARRAY['text', 'integer'], 'mq_peek is not strict');
SELECT isnt_strict('public', 'mq_ack', ARRAY['text', 'bigint', 'boolean'], 'mq_ack(receipt) is not strict');
SELECT isnt_strict('public', 'mq_ack', ARRAY['text', 'bigint[]', 'boolean'], 'mq_ack(receipts) is not strict');
SELECT isnt_strict('public', 'mq_ack', ARRAY['text', 'text', 'boolean'], 'mq_ack(receipt text) is not strict');
SELECT isnt_strict('public', 'mq_nack', ARRAY['text', 'bigint', 'interval', 'boolean', 'text'], 'mq_nack is not strict');
SELECT isnt_strict('public', 'mq_extend', ARRAY['text', 'bigint', 'interval', 'boolean'], 'mq_extend is not strict');

-- The mq_message type.
SELECT has_type('public', 'mq_message', 'type mq_message exists');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", format_type(a.atttypid, a.atttypmod)
        FROM pg_attribute a
        JOIN pg_type t ON t.typrelid = a.attrelid
       WHERE t.oid = 'mq_message'::regtype AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('id', 'bigint'), ('receipt', 'bigint'), ('body', 'jsonb'),
             ('headers', 'jsonb'), ('deliveries', 'integer'), ('priority', 'integer'),
             ('enqueued_at', 'timestamp with time zone'),
             ('visible_at', 'timestamp with time zone'),
             ('max_deliveries', 'integer'), ('group_key', 'text')$$,
    'mq_message columns, in order');

-- EXECUTE on mq_create_queue is revoked from PUBLIC, and a role without a
-- grant cannot create queues.
SELECT ok(NOT has_function_privilege('public',
          'mq_create_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,boolean,integer,double precision,interval,text,interval,double precision,boolean,boolean)',
          'EXECUTE'),
          'PUBLIC may not execute mq_create_queue');
SELECT is((SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) AS a
            WHERE p.oid = 'mq_create_queue(text,interval,integer,text,interval,bigint,text,integer,interval,boolean,boolean,integer,double precision,interval,text,interval,double precision,boolean,boolean)'::regprocedure
              AND a.grantee = 0),
          0::bigint,
          'no ACL entry of mq_create_queue names PUBLIC');
CREATE ROLE mq_api_nobody;
SET LOCAL ROLE mq_api_nobody;
SELECT throws_ok($$SELECT mq_create_queue('api_denied')$$, '42501', 'permission denied for function mq_create_queue',
                 'a role without a grant cannot call mq_create_queue');
RESET ROLE;

-- mq_redrive: one function, its arguments and return type, not STRICT.
SELECT has_function('public', 'mq_redrive', ARRAY['text', 'bigint', 'text', 'bigint[]'], 'mq_redrive(text, bigint, text, bigint[]) exists');
SELECT results_eq(
    $$SELECT pg_get_function_arguments(p.oid) || ' -> ' || pg_get_function_result(p.oid)
        FROM pg_proc p WHERE p.proname = 'mq_redrive' AND p.pronamespace = 'public'::regnamespace$$,
    $$VALUES ('dead_letter_queue text, max bigint DEFAULT NULL::bigint, source_queue text DEFAULT NULL::text, ids bigint[] DEFAULT NULL::bigint[] -> bigint')$$,
    'mq_redrive exists once, with these arguments and return type');
SELECT isnt_strict('public', 'mq_redrive', ARRAY['text', 'bigint', 'text', 'bigint[]'], 'mq_redrive is not strict');
SELECT function_returns('public', 'mq_redrive', ARRAY['text', 'bigint', 'text', 'bigint[]'], 'bigint', 'mq_redrive returns bigint');

-- Section 3b: mq_inspect, mq_delete and mq_move, once each, not STRICT.
SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default", pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_inspect', 'mq_delete', 'mq_move', 'mq_remove', 'mq_delay', 'mq_import')
       ORDER BY 1$$,
    $$VALUES
        ('mq_delay', 'queue text, ids bigint[], delay interval DEFAULT ''00:00:00''::interval',
         'TABLE(id bigint, state text, priority integer, group_key text, deliveries integer, enqueued_at timestamp with time zone, visible_at timestamp with time zone, lease_until timestamp with time zone, lease_pid integer, headers jsonb, body jsonb)'),
        ('mq_delete', 'queue text, ids bigint[]', 'bigint'),
        ('mq_import', 'queue text, ids bigint[], bodies jsonb[], headers jsonb[] DEFAULT NULL::jsonb[], enqueued_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], visible_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], deliveries integer[] DEFAULT NULL::integer[], last_id bigint DEFAULT NULL::bigint', 'bigint'),
        ('mq_inspect', 'queue text, state text DEFAULT ''all''::text, after_id bigint DEFAULT NULL::bigint, qty integer DEFAULT 100',
         'TABLE(id bigint, state text, priority integer, group_key text, deliveries integer, enqueued_at timestamp with time zone, visible_at timestamp with time zone, lease_until timestamp with time zone, lease_pid integer, headers jsonb, body jsonb)'),
        ('mq_move', 'queue text, ids bigint[], to_queue text', 'bigint'),
        ('mq_remove', 'queue text, ids bigint[]',
         'TABLE(id bigint, state text, priority integer, group_key text, deliveries integer, enqueued_at timestamp with time zone, visible_at timestamp with time zone, lease_until timestamp with time zone, lease_pid integer, headers jsonb, body jsonb)')$$,
    'the section 3b functions, mq_remove, mq_delay and mq_import exist once each, with these arguments and results');
SELECT isnt_strict('public', 'mq_inspect', ARRAY['text', 'text', 'bigint', 'integer'], 'mq_inspect is not strict');
SELECT isnt_strict('public', 'mq_delete', ARRAY['text', 'bigint[]'], 'mq_delete is not strict');
SELECT isnt_strict('public', 'mq_move', ARRAY['text', 'bigint[]', 'text'], 'mq_move is not strict');
SELECT isnt_strict('public', 'mq_remove', ARRAY['text', 'bigint[]'], 'mq_remove is not strict');
SELECT isnt_strict('public', 'mq_delay', ARRAY['text', 'bigint[]', 'interval'], 'mq_delay is not strict');
SELECT isnt_strict('public', 'mq_import', ARRAY['text', 'bigint[]', 'jsonb[]', 'jsonb[]', 'timestamp with time zone[]', 'timestamp with time zone[]', 'integer[]', 'bigint'], 'mq_import is not strict');

-- A parameter sent without a type resolves to the single-receipt mq_ack.
SELECT mq_create_queue('api_untyped');
PREPARE api_ack AS SELECT mq_ack('api_untyped', $1, false);
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'api_ack'),
          '{text}', 'an untyped receipt parameter resolves to the text form');
SELECT lives_ok($$EXECUTE api_ack('12345')$$, 'and acks through it');

SELECT * FROM finish();
ROLLBACK;
