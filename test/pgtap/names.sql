-- Queue names (SPEC section 2): 1 to 48 characters from [A-Za-z0-9_.-],
-- case-sensitive.  Every function rejects anything else with 22023 and an
-- unknown name with 42704.
BEGIN;
SELECT plan(432);
SET LOCAL client_min_messages = warning;

SELECT mq_create_queue('names_ok') AS created \gset
SELECT mq_send('names_ok', '"kept"') AS sent \gset
SELECT count(*) AS queues_before FROM mq_queues \gset

-- Every function that takes a queue name, as a template for format().
CREATE TEMP TABLE calls (n int, fn text, sql text);
INSERT INTO calls VALUES
    (1, 'mq_create_queue', $$SELECT mq_create_queue(%L)$$),
    (2, 'mq_create_queue if_not_exists', $$SELECT mq_create_queue(%L, if_not_exists => true)$$),
    (3, 'mq_alter_queue', $$SELECT mq_alter_queue(%L, visibility_timeout => '1 minute')$$),
    (4, 'mq_drop_queue', $$SELECT mq_drop_queue(%L)$$),
    (5, 'mq_drop_queue if_exists', $$SELECT mq_drop_queue(%L, if_exists => true)$$),
    (6, 'mq_purge', $$SELECT mq_purge(%L)$$),
    (7, 'mq_send', $$SELECT mq_send(%L, '1')$$),
    (8, 'mq_send_batch', $$SELECT mq_send_batch(%L, ARRAY['1']::jsonb[])$$),
    (9, 'mq_read', $$SELECT * FROM mq_read(%L)$$),
    (10, 'mq_pop', $$SELECT * FROM mq_pop(%L)$$),
    (11, 'mq_peek', $$SELECT * FROM mq_peek(%L)$$),
    (12, 'mq_ack', $$SELECT mq_ack(%L, 1::bigint)$$),
    (13, 'mq_ack array', $$SELECT mq_ack(%L, ARRAY[1]::bigint[])$$),
    (14, 'mq_nack', $$SELECT mq_nack(%L, 1)$$),
    (15, 'mq_extend', $$SELECT mq_extend(%L, 1, '1 minute')$$),
    (16, 'mq_ack non-strict', $$SELECT mq_ack(%L, 1::bigint, strict => false)$$),
    (17, 'mq_ack array non-strict', $$SELECT mq_ack(%L, ARRAY[1]::bigint[], strict => false)$$),
    (18, 'mq_nack non-strict', $$SELECT mq_nack(%L, 1, strict => false)$$),
    (19, 'mq_extend non-strict', $$SELECT mq_extend(%L, 1, '1 minute', strict => false)$$);

-- Invalid names: NULL, empty, too long, characters outside the set.
CREATE TEMP TABLE bad_names (n int, name text, label text);
INSERT INTO bad_names VALUES
    (1, NULL, 'NULL'),
    (2, '', 'empty'),
    (3, repeat('a', 49), '49 characters'),
    (4, 'a''b', 'single quote'),
    (5, 'a"b', 'double quote'),
    (6, 'a;b', 'semicolon'),
    (7, 'a b', 'space'),
    (8, ' names_ok', 'leading space'),
    (9, 'names_ok ', 'trailing space'),
    (10, 'a$b', 'dollar'),
    (11, 'caf' || chr(233), 'non-ASCII'),
    (12, 'a/b', 'slash'),
    (13, 'a' || chr(9) || 'b', 'tab'),
    (14, 'a' || chr(10) || 'b', 'newline'),
    (15, 'x''); DROP TABLE mq.objects; --', 'SQL injection'),
    (16, 'mq.q_1"; DROP TABLE mq.objects; --', 'identifier injection'),
    (17, repeat(chr(233), 24), '24 two-byte characters (48 bytes)'),
    (18, 'a*b', 'asterisk'),
    (19, 'a#b', 'hash');

-- 19 names x 19 calls = 361 tests.
SELECT throws_ok(format(c.sql, b.name), '22023', NULL,
                 format('%s rejects a name with %s', c.fn, b.label))
  FROM bad_names b CROSS JOIN calls c
 ORDER BY b.n, c.n;

-- Nothing was created, dropped or changed.
SELECT is((SELECT count(*) FROM mq_queues), :queues_before::bigint, 'no queue appeared or went');
SELECT has_table('mq', 'objects', 'the catalog is still there');
SELECT results_eq($$SELECT body FROM mq_peek('names_ok')$$, $$VALUES ('"kept"'::jsonb)$$,
                  'the existing queue is untouched');

-- An unknown queue: 42704 for every function but create (mq_purge takes
-- a stream too, and says so); drop with if_exists says false.  Names are case-sensitive, so 'Names_Ok' is unknown.
SELECT throws_ok(format(c.sql, u.name), '42704',
                 format(CASE c.fn WHEN 'mq_purge' THEN 'queue or stream "%s" does not exist'
                                  ELSE 'queue "%s" does not exist' END, u.name),
                 format('%s: unknown queue %s', c.fn, u.name))
  FROM calls c CROSS JOIN (VALUES ('names_missing'), ('Names_Ok'), ('NAMES_OK')) AS u(name)
 WHERE c.n NOT IN (1, 2, 5)
 ORDER BY u.name, c.n;
SELECT is(mq_drop_queue('names_missing', if_exists => true), false, 'drop of an unknown queue with if_exists returns false');

-- 48 characters is the longest name; every function accepts it (the
-- receipts are unknown, hence the non-strict calls).
SELECT lives_ok(format(c.sql, repeat('Z', 40) || '_0.9-abc'), format('%s accepts a 48-character name', c.fn))
  FROM calls c
 WHERE c.n NOT IN (2, 4, 5, 12, 13, 14, 15)
 ORDER BY c.n;
SELECT is(length(queue), 48, 'the 48-character name is stored as given')
  FROM mq_queues WHERE queue LIKE 'ZZZZ%';
SELECT is(mq_drop_queue(repeat('Z', 40) || '_0.9-abc'), true, 'mq_drop_queue accepts a 48-character name');

-- One-character names and every allowed character.
SELECT lives_ok($$SELECT mq_create_queue('q')$$, 'a one-character name');
SELECT lives_ok($$SELECT mq_create_queue('AZaz09_.-')$$, 'every kind of allowed character');
SELECT lives_ok($$SELECT mq_create_queue('-')$$, 'a name made of "-"');
SELECT lives_ok($$SELECT mq_create_queue('..')$$, 'a name made of dots');
SELECT results_eq($$SELECT queue COLLATE "default" FROM mq_queues WHERE queue IN ('q', 'AZaz09_.-', '-', '..') ORDER BY queue COLLATE "C"$$,
                  $$VALUES ('-'), ('..'), ('AZaz09_.-'), ('q')$$,
                  'the names are stored exactly as given');

SELECT * FROM finish();
ROLLBACK;
