-- Hostile input: names that would break SQL built by hand, large and odd
-- payloads.  Names are checked before anything else (22023), payloads go
-- in as values, never as SQL, and come back byte for byte.
\set VERBOSITY sqlstate
SELECT mq_create_queue('q''; DROP TABLE mq.objects; --');
SELECT mq_create_queue('q$$x$$');
SELECT mq_create_queue('q"x');
SELECT mq_create_queue('q x');
SELECT mq_create_queue(E'q\tx');
SELECT mq_create_queue('qé');
SELECT mq_create_topic('t;t');
SELECT mq_create_stream('s/*x*/');
SELECT mq_send('nope''--', '{}');
SELECT mq_read('q%', 1);
SELECT mq_create_group('any', 'g''; SELECT 1');
\set VERBOSITY default
SELECT to_regclass('mq.objects') IS NOT NULL AS catalog_intact;

SELECT mq_create_queue('hostile');
-- Bodies and headers that look like SQL, odd UTF-8 (combining marks,
-- right-to-left, a 4-byte emoji, a zero-width joiner), quotes of every kind.
SELECT mq_send('hostile', jsonb_build_object(
         'sql', $q$'); DROP TABLE mq.objects; --$q$,
         'dollar', '$$ $x$ $',
         'utf8', E'e\u0301 \u05e9\u05dc\u05d5\u05dd \U0001F600\u200d\U0001F4BB',
         'quotes', E'\'"`\\'),
       headers => jsonb_build_object('k''ey', 'v"al')) > 0 AS sent;
-- (The UTF-8 text as its bytes: how wide psql draws it depends on the
-- version's Unicode tables.)
SELECT body->>'sql' AS sql_text, body->>'dollar' AS dollar,
       encode(convert_to(body->>'utf8', 'UTF8'), 'hex') AS utf8_bytes,
       body->>'quotes' AS quotes, headers
  FROM mq_peek('hostile', 1);
SELECT mq_purge('hostile');

-- A 1 MB body, sent and read back unchanged.
SELECT mq_send('hostile', jsonb_build_object('blob', repeat(md5('x'), 32768))) > 0 AS sent;
SELECT length(body->>'blob') AS length, md5(body->>'blob') = md5(repeat(md5('x'), 32768)) AS same,
       mq_ack('hostile', receipt) AS acked
  FROM mq_read('hostile', 1);

-- 10 000 messages in one batch, all or nothing.
SELECT count(*) AS sent FROM mq_send_batch('hostile', ARRAY(SELECT to_jsonb(g) FROM generate_series(1, 10000) g));
SELECT count(*) AS read, min(body::int), max(body::int), count(DISTINCT body) AS distinct_bodies
  FROM mq_read('hostile', 10000);
SELECT mq_purge('hostile');
BEGIN;
SELECT count(*) AS sent FROM mq_send_batch('hostile', ARRAY(SELECT to_jsonb(g) FROM generate_series(1, 10000) g));
ROLLBACK;
SELECT depth FROM mq_queues WHERE queue = 'hostile';

-- Headers must be a JSON object.
\set VERBOSITY sqlstate
SELECT mq_send('hostile', '{}', headers => '[1, 2]');
SELECT mq_send('hostile', '{}', headers => '"text"');
SELECT mq_send('hostile', '{}', headers => 'null');
SELECT mq_send_batch('hostile', ARRAY['{}']::jsonb[], ARRAY['3']::jsonb[]);
SELECT mq_publish('nope', 'a', '{}', headers => '[]');
\set VERBOSITY default
SELECT depth FROM mq_queues WHERE queue = 'hostile';
SELECT mq_drop_queue('hostile');
