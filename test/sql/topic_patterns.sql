-- The AMQP pattern matrix: which routing keys each pattern matches.
-- One queue per pattern, all subscribed to one topic; every key is published
-- once, and each queue then holds the keys its pattern matched.

SELECT mq_create_topic('tpm');
CREATE TEMP TABLE patterns (n int, pattern text);
INSERT INTO patterns VALUES
    (1, 'a.b.c'),      -- exact
    (2, '*.b.c'),      -- * at the start
    (3, 'a.*.c'),      -- * in the middle
    (4, 'a.b.*'),      -- * at the end
    (5, '#'),          -- # alone: everything, also the empty key
    (6, '#.c'),        -- # at the start
    (7, 'a.#.c'),      -- # in the middle (zero or more words)
    (8, 'a.#'),        -- # at the end
    (9, '*'),          -- exactly one word
    (10, '*.*'),       -- exactly two words
    (11, '#.b.#'),     -- b anywhere
    (12, 'A.b.c'),     -- case sensitive
    (13, 'a.*.#'),     -- at least two words starting with a
    (14, '#.#');       -- the same as #

SELECT mq_create_queue('tpm_' || n) FROM patterns ORDER BY n;
SELECT mq_subscribe('tpm', 'tpm_' || n, pattern) FROM patterns ORDER BY n;

CREATE TEMP TABLE routing_keys (k text);
INSERT INTO routing_keys VALUES (''), ('a'), ('a.b'), ('a.b.c'), ('a.x.c'), ('a.x.y.c'),
    ('a.c'), ('x.b.c'), ('a.b.c.d'), ('A.b.c'), ('b'), ('x.y');
SELECT k, mq_publish('tpm', k, to_jsonb(k)) AS delivered FROM routing_keys ORDER BY k;

SELECT p.n, p.pattern,
       (SELECT string_agg(quote_literal(m.body #>> '{}'), ' ' ORDER BY m.id)
          FROM mq_peek('tpm_' || p.n, 100) m) AS matched
  FROM patterns p ORDER BY p.n;

-- Bad patterns: 22023, and nothing subscribed.
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE sql; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT left(p, 12) AS pattern, length(p) AS len, pg_temp.err(format('SELECT mq_subscribe(%L, %L, %L)', 'tpm', 'tpm_1', p)) AS result
  FROM (VALUES (''), ('.a'), ('a.'), ('a..b'), ('**'), ('a*'), ('#a'), ('a b'), ('a;b'), ('ä'),
              ('a.#b'), (repeat('a', 256))) AS t(p);
SELECT count(*) FROM mq_topics WHERE queue = 'tpm_1';

SELECT mq_drop_topic('tpm');
SELECT mq_drop_queue('tpm_' || n) FROM patterns ORDER BY n;
