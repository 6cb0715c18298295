-- The public stream API matches SPEC section 5: argument names, types and
-- defaults, return types, the mq_record type, not STRICT, and EXECUTE on
-- mq_create_stream revoked from PUBLIC.
BEGIN;
SELECT plan(6);

SET LOCAL IntervalStyle = 'postgres';

-- Every function of section 5, once each, with its arguments and result.
SELECT results_eq(
    $$SELECT format('%s(%s) -> %s', p.proname::text COLLATE "default",
                  pg_get_function_arguments(p.oid), pg_get_function_result(p.oid))
        FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname IN ('mq_create_stream', 'mq_alter_stream', 'mq_drop_stream',
                           'mq_append', 'mq_append_batch', 'mq_stream_read',
                           'mq_create_group', 'mq_drop_group', 'mq_consume', 'mq_seek')
       ORDER BY 1$$,
    $$VALUES
        ('mq_alter_stream(stream text, max_age interval DEFAULT NULL::interval, max_bytes bigint DEFAULT NULL::bigint, max_messages bigint DEFAULT NULL::bigint, dedup_window interval DEFAULT NULL::interval, reset text[] DEFAULT NULL::text[]) -> void'),
        ('mq_append(stream text, body jsonb, key text DEFAULT NULL::text, headers jsonb DEFAULT NULL::jsonb, idempotency_key text DEFAULT NULL::text) -> TABLE(partition integer, "position" bigint)'),
        ('mq_append_batch(stream text, bodies jsonb[], keys text[] DEFAULT NULL::text[], headers jsonb[] DEFAULT NULL::jsonb[], idempotency_keys text[] DEFAULT NULL::text[]) -> TABLE(partition integer, "position" bigint)'),
        ('mq_consume(stream text, consumer_group text, max integer DEFAULT 100, wait interval DEFAULT ''00:00:00''::interval) -> SETOF mq_record'),
        ('mq_create_group(stream text, consumer_group text, start text DEFAULT ''earliest''::text, if_not_exists boolean DEFAULT false) -> void'),
        ('mq_create_stream(stream text, partitions integer DEFAULT 1, max_age interval DEFAULT NULL::interval, max_bytes bigint DEFAULT NULL::bigint, max_messages bigint DEFAULT NULL::bigint, dedup_window interval DEFAULT ''1 day''::interval, if_not_exists boolean DEFAULT false) -> void'),
        ('mq_drop_group(stream text, consumer_group text, if_exists boolean DEFAULT false) -> boolean'),
        ('mq_drop_stream(stream text, if_exists boolean DEFAULT false) -> boolean'),
        ('mq_seek(stream text, consumer_group text, at timestamp with time zone) -> void'),
        ('mq_seek(stream text, consumer_group text, partition integer, to_position bigint) -> void'),
        ('mq_stream_read(stream text, partition integer, from_position bigint, max integer DEFAULT 100) -> SETOF mq_record')$$,
    'the section 5 functions exist once each, with these arguments and results');

SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.proisstrict
              AND p.proname IN ('mq_create_stream', 'mq_alter_stream', 'mq_drop_stream',
                                'mq_append', 'mq_append_batch', 'mq_stream_read',
                                'mq_create_group', 'mq_drop_group', 'mq_consume', 'mq_seek')),
          0, 'no stream function is STRICT (NULL arguments raise 22023)');

SELECT results_eq(
    $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
        FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'mq_record'::regtype)
         AND attnum > 0 ORDER BY attnum$$,
    $$VALUES ('partition', 'integer'), ('position', 'bigint'), ('key', 'text'),
             ('body', 'jsonb'), ('headers', 'jsonb'), ('appended_at', 'timestamp with time zone')$$,
    'mq_record has the columns of section 5');

SELECT results_eq(
    $$SELECT attname::text COLLATE "default" FROM pg_attribute WHERE attrelid = 'mq_streams'::regclass
         AND attnum > 0 ORDER BY attnum$$,
    $$VALUES ('stream'), ('partitions'), ('partition'), ('first_position'), ('next_position'),
             ('records'), ('bytes'), ('max_age'), ('max_bytes'), ('max_messages'),
             ('dedup_window'), ('created_at')$$,
    'mq_streams has the documented columns');

SELECT results_eq(
    $$SELECT attname::text COLLATE "default" FROM pg_attribute WHERE attrelid = 'mq_groups'::regclass
         AND attnum > 0 ORDER BY attnum$$,
    $$VALUES ('stream'), ('consumer_group'), ('partition'), ('position'), ('lag')$$,
    'mq_groups has the columns of section 6');

SELECT ok(NOT has_function_privilege('public',
              'mq_create_stream(text,integer,interval,bigint,bigint,interval,boolean)', 'EXECUTE'),
          'EXECUTE on mq_create_stream is not granted to PUBLIC');

SELECT * FROM finish();
ROLLBACK;
