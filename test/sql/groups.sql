--
-- Message groups (SPEC section 3a): per-key FIFO.  Within a group,
-- messages are delivered in id order and at most max_inflight_per_group of
-- them are leased at once; a nack, a rollback or an expired lease makes the
-- same message the group's head again; ungrouped messages never wait.
--

-- A helper: drain a queue read by read, acking everything read, and show
-- what each read returned (ids and groups).
CREATE FUNCTION drain(q text, qty int DEFAULT 10)
RETURNS TABLE(round int, ids bigint[], groups text[])
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    k int := 0;
BEGIN
    LOOP
        k := k + 1;
        round := k;
        ids := '{}';
        groups := '{}';
        FOR r IN SELECT * FROM mq_read(q, qty) LOOP
            ids := ids || r.id;
            groups := groups || coalesce(r.group_key, '-');
            PERFORM mq_ack(q, r.receipt);
        END LOOP;
        EXIT WHEN cardinality(ids) = 0 OR k > 50;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The option: shown, changed, reset, checked.
SELECT mq_create_queue('grp');
SELECT max_inflight_per_group FROM mq_queues WHERE queue = 'grp';
\set VERBOSITY sqlstate
SELECT mq_create_queue('grp_bad', max_inflight_per_group => 0);
SELECT mq_create_queue('grp_bad', max_inflight_per_group => NULL);
SELECT mq_alter_queue('grp', max_inflight_per_group => -1);
-- Group keys are 1 to 256 bytes.
SELECT mq_send('grp', '1', group_key => '');
SELECT mq_send('grp', '1', group_key => repeat('k', 257));
SELECT mq_send_batch('grp', ARRAY['1', '2']::jsonb[], group_keys => ARRAY['a', '']);
SELECT mq_send_batch('grp', ARRAY['1', '2']::jsonb[], group_keys => ARRAY['a']);
\set VERBOSITY default
SELECT length(mq_send('grp', '1', group_key => repeat('k', 256))::text) > 0 AS sent;
SELECT mq_purge('grp');

-- Three groups and ungrouped messages: each read takes every group's head
-- and every ungrouped message; the next of a group only after its ack.
SELECT count(*) FROM (
    SELECT mq_send('grp', to_jsonb(i),
                   group_key => CASE WHEN i % 4 = 0 THEN NULL ELSE 'g' || (i % 4) END)
      FROM generate_series(1, 12) i) s;
SELECT id, state, priority, group_key FROM mq_inspect('grp');
SELECT queue, group_key, ready, inflight, delayed, oldest_age >= '0' AS aged
  FROM mq_message_groups WHERE queue = 'grp' ORDER BY group_key;
SELECT * FROM drain('grp');

-- A batch send: groups within the batch keep their order.
SELECT count(*) FROM mq_send_batch('grp', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 6) i),
                                   group_keys => ARRAY['a', 'b', 'a', NULL, 'b', 'a']);
SELECT * FROM drain('grp');

-- A batch of more than 64 groups locks the queue's groups as a whole
-- instead of one by one; each group still gets one deliverable head.
SELECT count(*) FROM mq_send_batch('grp', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 300) i),
                                   group_keys => (SELECT array_agg('m' || (i % 100)) FROM generate_series(1, 300) i));
SELECT count(*), count(DISTINCT group_key), min(body::int), max(body::int) FROM mq_read('grp', 1000);
SELECT count(*) FROM mq_read('grp', 1000);
SELECT count(*), sum(ready), sum(inflight) FROM mq_message_groups WHERE queue = 'grp';
SELECT mq_purge('grp');

-- Priority does not reorder a group: its head goes first whatever the
-- priority of later messages; groups are taken by their heads' priority.
SELECT mq_send('grp', '"a1 low"', priority => 0, group_key => 'a') AS a1 \gset
SELECT mq_send('grp', '"a2 high"', priority => 9, group_key => 'a') AS a2 \gset
SELECT mq_send('grp', '"b1 mid"', priority => 5, group_key => 'b') AS b1 \gset
SELECT id, body, priority, group_key FROM mq_read('grp', 1);
SELECT id, body, priority, group_key FROM mq_read('grp', 1);
SELECT id, body, priority FROM mq_read('grp', 1);
SELECT mq_purge('grp');

-- A nack makes the same message the head again.
SELECT mq_send('grp', '"first"', group_key => 'n') AS n1 \gset
SELECT mq_send('grp', '"second"', group_key => 'n') AS n2 \gset
SELECT receipt AS r FROM mq_read('grp', 5) \gset
SELECT count(*) FROM mq_read('grp', 5);
SELECT mq_nack('grp', :r);
SELECT id = :n1 AS head_again, receipt AS r FROM mq_read('grp', 5) \gset
SELECT :'head_again';
-- A rollback of the reading transaction too.
SELECT mq_nack('grp', :r);
BEGIN;
SELECT id = :n1 AS read_in_xact FROM mq_read('grp', 5);
ROLLBACK;
SELECT id = :n1 AS head_after_rollback, receipt AS r FROM mq_read('grp', 5) \gset
SELECT :'head_after_rollback';
-- An expired lease too.
SELECT mq_nack('grp', :r);
SELECT id = :n1 AS read_short FROM mq_read('grp', 5, vt => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT id = :n1 AS head_after_expiry, deliveries FROM mq_read('grp', 5);
-- An ack of the head lets the next one go.
SELECT mq_purge('grp');

-- A delayed head holds its group until it is due; ungrouped messages and
-- other groups go on.
SELECT mq_send('grp', '"later"', delay => '1 second', group_key => 'd') AS d1 \gset
SELECT mq_send('grp', '"after it"', group_key => 'd') AS d2 \gset
SELECT mq_send('grp', '"other"', group_key => 'e') AS e1 \gset
SELECT body FROM mq_read('grp', 5);
SELECT queue, group_key, ready, inflight, delayed, oldest_age >= '0' AS aged
  FROM mq_message_groups WHERE queue = 'grp' ORDER BY group_key;
SELECT pg_sleep(1.1);
SELECT body FROM mq_read('grp', 5);
SELECT mq_purge('grp');

-- A nack with a delay keeps the group waiting for the same message.
SELECT mq_send('grp', '"x1"', group_key => 'x') AS x1 \gset
SELECT mq_send('grp', '"x2"', group_key => 'x') AS x2 \gset
SELECT receipt AS r FROM mq_read('grp', 5) \gset
SELECT mq_nack('grp', :r, delay => '1 second');
SELECT count(*) FROM mq_read('grp', 5);
SELECT pg_sleep(1.1);
SELECT body FROM mq_read('grp', 5);
SELECT mq_purge('grp');

-- max_inflight_per_group 2: two of a group at once, in id order; raising
-- and lowering it re-forms each group's window at once.
SELECT mq_alter_queue('grp', max_inflight_per_group => 2);
SELECT count(*) FROM (SELECT mq_send('grp', to_jsonb(i), group_key => 'w') FROM generate_series(1, 6) i) s;
SELECT array_agg(body ORDER BY id) FROM mq_read('grp', 10);
SELECT mq_alter_queue('grp', max_inflight_per_group => 4);
SELECT array_agg(body ORDER BY id) FROM mq_read('grp', 10);
SELECT mq_alter_queue('grp', reset => '{max_inflight_per_group}');
SELECT max_inflight_per_group FROM mq_queues WHERE queue = 'grp';
SELECT ready, inflight FROM mq_message_groups WHERE queue = 'grp';
SELECT mq_purge('grp');

-- With max_inflight_per_group 2, a batch is filled round-robin over the
-- groups: one message of each group (an ungrouped one is a group of one) per
-- round, then the second of each -- peeks too.
SELECT mq_create_queue('grp_rr', max_inflight_per_group => 2);
SELECT count(*) FROM mq_send_batch('grp_rr', (SELECT array_agg(to_jsonb(i)) FROM generate_series(1, 9) i),
                                   group_keys => ARRAY['a', 'a', 'a', 'a', 'a', 'b', 'b', 'c', NULL]);
SELECT array_agg(body) FROM mq_peek('grp_rr', 3);
SELECT array_agg(body) FROM mq_peek('grp_rr', 10);
CREATE TEMP TABLE rr AS SELECT * FROM mq_read('grp_rr', 10);
SELECT array_agg(body) FROM rr;
SELECT count(*) FROM mq_read('grp_rr', 10);
-- One ack of many receipts lets the next of each group in.
SELECT mq_ack('grp_rr', (SELECT array_agg(receipt) FROM rr));
SELECT array_agg(body) FROM mq_read('grp_rr', 10);
SELECT mq_drop_queue('grp_rr');
DROP TABLE rr;

-- Poison at a group's head: max_deliveries moves it to the dead-letter
-- queue, keeping its group, and the group moves on.  Redriven, it rejoins
-- its group at the end.
SELECT mq_create_queue('grp_dlq');
SELECT mq_create_queue('grp_p', max_deliveries => 2, dead_letter_queue => 'grp_dlq');
SELECT mq_send('grp_p', '"poison"', group_key => 'p') AS p1 \gset
SELECT mq_send('grp_p', '"fine"', group_key => 'p') AS p2 \gset
SELECT mq_nack('grp_p', receipt) FROM mq_read('grp_p', 5);
SELECT mq_nack('grp_p', receipt) FROM mq_read('grp_p', 5);
SELECT body, group_key FROM mq_read('grp_p', 5, vt => '0');
SELECT body, group_key FROM mq_inspect('grp_dlq');
SELECT mq_redrive('grp_dlq');
SELECT body, group_key, state FROM mq_inspect('grp_p');
SELECT body FROM mq_read('grp_p', 5);

-- TTL: an expired head leaves, and the next of its group takes its place.
SELECT mq_create_queue('grp_ttl', message_ttl => '1 second');
SELECT mq_send('grp_ttl', '"old"', group_key => 't');
SELECT pg_sleep(1.1);
SELECT mq_send('grp_ttl', '"new"', group_key => 't');
SELECT body FROM mq_read('grp_ttl', 5);

-- max_length with drop_oldest: dropping a group's head promotes its next.
SELECT mq_create_queue('grp_len', max_length => 2, overflow => 'drop_oldest');
SELECT mq_send('grp_len', '"l1"', group_key => 'l');
SELECT mq_send('grp_len', '"l2"', group_key => 'l');
SELECT mq_send('grp_len', '"l3"', group_key => 'm');
SELECT body, group_key FROM mq_inspect('grp_len');
SELECT body FROM mq_read('grp_len', 5);

-- Deleting or moving a head by id promotes the next; a message moved to
-- another queue keeps its group there.
SELECT mq_send('grp', '"h1"', group_key => 'h') AS h1 \gset
SELECT mq_send('grp', '"h2"', group_key => 'h') AS h2 \gset
SELECT mq_send('grp', '"h3"', group_key => 'h') AS h3 \gset
SELECT mq_delete('grp', ARRAY[:h1]::bigint[]);
SELECT body FROM mq_peek('grp', 5);
SELECT mq_move('grp', ARRAY[:h2]::bigint[], 'grp_dlq');
SELECT body FROM mq_peek('grp', 5);
SELECT body, group_key FROM mq_inspect('grp_dlq');
-- Deleting a waiting message leaves the head alone.
SELECT mq_send('grp', '"h4"', group_key => 'h') AS h4 \gset
SELECT mq_delete('grp', ARRAY[:h4]::bigint[]);
SELECT body FROM mq_peek('grp', 5);
SELECT mq_purge('grp');
SELECT mq_purge('grp_dlq');

-- A rolled-back ack leaves the head where it was, the next still waiting.
SELECT mq_send('grp', '"k1"', group_key => 'k') AS k1 \gset
SELECT mq_send('grp', '"k2"', group_key => 'k') AS k2 \gset
SELECT receipt AS r FROM mq_read('grp', 5) \gset
BEGIN;
SELECT mq_ack('grp', :r);
SELECT body FROM mq_peek('grp', 5);
ROLLBACK;
SELECT body FROM mq_peek('grp', 5);
SELECT mq_ack('grp', :r);
SELECT body FROM mq_peek('grp', 5);
SELECT mq_purge('grp');

-- Publish: each copy keeps the group key.
SELECT mq_create_topic('grp_t');
SELECT mq_subscribe('grp_t', 'grp', 'k.#');
SELECT mq_publish('grp_t', 'k.a', '"p1"', group_key => 'pub');
SELECT mq_publish('grp_t', 'k.a', '"p2"', group_key => 'pub');
SELECT body, group_key FROM mq_read('grp', 5);
SELECT mq_purge('grp');

-- pop honours groups too.
SELECT mq_send('grp', '"o1"', group_key => 'o');
SELECT mq_send('grp', '"o2"', group_key => 'o');
SELECT body, group_key FROM mq_pop('grp', 5);
SELECT body, group_key FROM mq_pop('grp', 5);

-- Promotions in place (storage.c): a stamp that cannot be told -- rows
-- copied from another cluster by pg_dump carry such stamps -- is settled
-- from the group.  u2 looks promoted, but u1 is still there: u2 waits, and
-- its stamp is settled as undone; v1, a head that looks promoted, is.
SELECT mq_send('grp', '"u1"', group_key => 'u');
SELECT mq_send('grp', '"u2"', group_key => 'u');
SELECT mq_send('grp', '"v1"', group_key => 'v');
SELECT 'mq.q_' || id AS grp_table FROM mq.objects WHERE name = 'grp' \gset
UPDATE :grp_table SET rank = rank - 256, promotion = 12345 WHERE body = '"u2"';
UPDATE :grp_table SET promotion = 777 WHERE body = '"v1"';
SELECT body, group_key FROM mq_read('grp', 5) ORDER BY id;
SELECT body, promotion FROM :grp_table ORDER BY id;
-- Each message once, though u2 has an entry of either rank.
SELECT body, state FROM mq_inspect('grp') ORDER BY id;
SELECT group_key, ready, inflight FROM mq_message_groups WHERE queue = 'grp' ORDER BY group_key;
-- u1 acked: u2 joins its window (an entry of its rank is there already).
SELECT mq_delete('grp', array_agg(id)) FROM mq_inspect('grp') WHERE body = '"u1"';
SELECT body FROM mq_read('grp', 5);
SELECT body, state FROM mq_inspect('grp') ORDER BY id;
SELECT mq_purge('grp');
-- An ack rolled back leaves a promotion that did not stand; after a
-- REINDEX the row has an entry of its promoted rank only.  It waits, is
-- listed once, and joins the window when its head is acked.
SELECT mq_send('grp', '"w1"', group_key => 'w');
SELECT mq_send('grp', '"w2"', group_key => 'w');
BEGIN;
SELECT mq_ack('grp', receipt) AS w1_acked FROM mq_read('grp', 1, vt => '1 hour') \gset
SELECT body, CASE promotion WHEN 0 THEN 'none' WHEN -1 THEN 'undone' ELSE 'stamp' END
  FROM :grp_table ORDER BY id;
ROLLBACK;
REINDEX TABLE :grp_table;
SELECT body, state FROM mq_inspect('grp') ORDER BY id;
SELECT body, CASE promotion WHEN 0 THEN 'none' WHEN -1 THEN 'undone' ELSE 'stamp' END
  FROM :grp_table ORDER BY id;
SELECT body FROM mq_read('grp', 5);
SELECT mq_delete('grp', array_agg(id)) FROM mq_inspect('grp') WHERE body = '"w1"';
SELECT body FROM mq_read('grp', 5);
SELECT mq_purge('grp');

-- Where a group goes on is kept as a hint (successor.c), checked before use:
-- after a rolled-back ack the hint is of the wrong row and the head's
-- next comes, not the one after; a hinted row that has gone is passed.
SELECT count(mq_send('grp', to_jsonb(m), group_key => 'x'))
  FROM unnest(ARRAY['x1', 'x2', 'x3', 'x4', 'x5']) m;
BEGIN;
SELECT count(mq_ack('grp', receipt)) FROM mq_read('grp', 1);
ROLLBACK;
SELECT mq_delete('grp', array_agg(id)) FROM mq_inspect('grp') WHERE body = '"x1"';
SELECT mq_delete('grp', array_agg(id)) FROM mq_inspect('grp') WHERE body = '"x3"';
SELECT body, mq_ack('grp', receipt) FROM mq_read('grp', 5);
SELECT body FROM mq_read('grp', 5);
SELECT mq_purge('grp');

-- The gap (qstate.c): behind a held head, a read steps over a long run of
-- acked rows (over 1024 ids) once and remembers it; a row that enters its group's window
-- with an id inside that run ends the gap, and the next read finds it.
SELECT mq_send('grp', '"h1"', group_key => 'h');
SELECT mq_send('grp', '"z1"', group_key => 'z');
SELECT count(*) FROM mq_send_batch('grp', array_fill('"f"'::jsonb, ARRAY[600]));
SELECT mq_send('grp', '"z2"', group_key => 'z');
SELECT count(*) FROM mq_send_batch('grp', array_fill('"f"'::jsonb, ARRAY[600]));
SELECT count(*) FROM mq_send_batch('grp', ARRAY['"t1"', '"t2"']::jsonb[]);
SELECT string_agg(body #>> '{}', ',' ORDER BY id) FROM mq_read('grp', 1, vt => '1 hour');
SELECT receipt AS z1_receipt FROM mq_read('grp', 1, vt => '1 hour') \gset
SELECT count(mq_ack('grp', receipt)) FROM mq_read('grp', 600);
SELECT count(mq_ack('grp', receipt)) FROM mq_read('grp', 600);
SELECT body FROM mq_read('grp', 1, vt => '1 hour');
SELECT mq_ack('grp', :z1_receipt);
SELECT body FROM mq_read('grp', 5) ORDER BY id;
SELECT mq_purge('grp');

SELECT mq_drop_topic('grp_t');
SELECT mq_drop_queue('grp');
SELECT mq_drop_queue('grp_p');
SELECT mq_drop_queue('grp_dlq');
SELECT mq_drop_queue('grp_ttl');
SELECT mq_drop_queue('grp_len');
DROP FUNCTION drain(text, int);
