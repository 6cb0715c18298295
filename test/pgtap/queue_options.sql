-- Bad input to the queue DDL: mq_create_queue, mq_alter_queue,
-- mq_drop_queue, mq_purge.  Invalid values raise 22023 (checked before
-- anything else), an unknown dead-letter queue 42704, a queue as its own
-- dead-letter queue 22023, dropping a dead-letter queue in use 2BP01, and
-- a failed call changes nothing.
BEGIN;
SELECT plan(111);
SET LOCAL client_min_messages = warning;

-- The options of a queue as one text, to compare before and after.
CREATE FUNCTION pg_temp.options(q text) RETURNS text LANGUAGE sql AS $$
    SELECT format('vt=%s max_deliveries=%s dlq=%s ttl=%s max_length=%s overflow=%s max_inflight=%s dedup=%s unlogged=%s',
                  visibility_timeout, max_deliveries, dead_letter_queue, message_ttl,
                  max_length, overflow, max_inflight, dedup_window, unlogged)
      FROM mq_queues WHERE queue = q
$$;

SELECT lives_ok($$SELECT mq_create_queue('opt_q', visibility_timeout => '2 minutes', dedup_window => '3 hours')$$,
                'create the test queue');
SELECT lives_ok($$SELECT mq_create_queue('opt_dlq')$$, 'create a would-be dead-letter queue');
SELECT lives_ok($$SELECT mq_send('opt_q', '"kept"')$$, 'one message in it');
SELECT pg_temp.options('opt_q') AS opt_q_options \gset
SELECT count(*) AS queues_before FROM mq_queues \gset

-- mq_create_queue: NULL where a value is required.
SELECT throws_ok($$SELECT mq_create_queue('opt_new', visibility_timeout => NULL)$$, '22023', NULL, 'create: visibility_timeout NULL');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', overflow => NULL)$$, '22023', NULL, 'create: overflow NULL');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dedup_window => NULL)$$, '22023', NULL, 'create: dedup_window NULL');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', unlogged => NULL)$$, '22023', NULL, 'create: unlogged NULL');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', if_not_exists => NULL)$$, '22023', NULL, 'create: if_not_exists NULL');

-- Invalid values: 22023.
SELECT throws_ok($$SELECT mq_create_queue('opt_new', visibility_timeout => '-1 second')$$, '22023', NULL, 'create: negative visibility_timeout');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', visibility_timeout => '1 day -25 hours')$$, '22023', NULL, 'create: visibility_timeout negative in total');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', visibility_timeout => '-1 month')$$, '22023', NULL, 'create: visibility_timeout of minus one month');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dedup_window => '-1 second')$$, '22023', NULL, 'create: negative dedup_window');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dedup_window => '-1 day')$$, '22023', NULL, 'create: negative dedup_window in days');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', message_ttl => '-1 second')$$, '22023', NULL, 'create: negative message_ttl');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => 0)$$, '22023', NULL, 'create: max_deliveries 0');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => -1)$$, '22023', NULL, 'create: max_deliveries -1');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_length => -1)$$, '22023', NULL, 'create: max_length -1');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_inflight => -1)$$, '22023', NULL, 'create: max_inflight -1');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', overflow => 'foo')$$, '22023', NULL, 'create: overflow foo');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', overflow => '')$$, '22023', NULL, 'create: overflow empty');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => 'bad name')$$, '22023', NULL, 'create: dead_letter_queue with a space');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => '')$$, '22023', NULL, 'create: dead_letter_queue empty');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => repeat('d', 49))$$, '22023', NULL, 'create: dead_letter_queue of 49 characters');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', message_ttl => '0')$$, '22023', NULL, 'create: message_ttl 0');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', message_ttl => '1 day -24 hours')$$, '22023', NULL, 'create: message_ttl zero in total');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_length => 0)$$, '22023', NULL, 'create: max_length 0');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_inflight => 0)$$, '22023', NULL, 'create: max_inflight 0');
-- One invalid value fails the call, whatever the other options.
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => 0, unlogged => true)$$, '22023', NULL, 'create: invalid max_deliveries with unlogged');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => 3, overflow => 'foo')$$, '22023', NULL, 'create: invalid overflow with a valid max_deliveries');

-- The dead-letter queue must be an existing queue other than the queue itself.
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => 'opt_nowhere')$$, '42704', 'dead-letter queue "opt_nowhere" does not exist', 'create: unknown dead_letter_queue');
SELECT lives_ok($$SELECT mq_create_topic('opt_topic')$$, 'a topic');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => 'opt_topic')$$, '42809', NULL, 'create: a topic as dead_letter_queue');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', dead_letter_queue => 'opt_new')$$, '22023', NULL, 'create: the queue as its own dead_letter_queue');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => 0, dead_letter_queue => 'opt_nowhere')$$, '22023', NULL, 'create: an invalid value is reported before the unknown dead_letter_queue');
SELECT throws_ok($$SELECT mq_create_queue('opt_new', max_deliveries => 3, dead_letter_queue => 'opt_nowhere')$$, '42704', NULL, 'create: valid options and an unknown dead_letter_queue');

-- None of these created anything.
SELECT is((SELECT count(*) FROM mq_queues), :queues_before::bigint, 'no queue was created by a failed create');

-- Accepted values.
SELECT lives_ok($$SELECT mq_create_queue('opt_zero', visibility_timeout => '0', dedup_window => '0')$$, 'create: zero intervals');
SELECT lives_ok($$SELECT mq_create_queue('opt_mixed', visibility_timeout => '1 day -1 hour')$$, 'create: an interval with mixed signs that is positive');
SELECT is(visibility_timeout, interval '1 day -1 hour', 'the mixed interval is stored as given')
  FROM mq_queues WHERE queue = 'opt_mixed';
SELECT lives_ok($$SELECT mq_create_queue('opt_nulls', max_deliveries => NULL, dead_letter_queue => NULL,
                                         message_ttl => NULL, max_length => NULL, max_inflight => NULL)$$,
                'create: NULL for the options whose default is NULL');
SELECT lives_ok($$SELECT mq_create_queue('opt_defaults', overflow => 'reject', unlogged => false)$$,
                'create: the default values of overflow and unlogged');
SELECT lives_ok($$SELECT mq_create_queue('opt_all', visibility_timeout => '1 minute', max_deliveries => 5,
                                         dead_letter_queue => 'opt_dlq', message_ttl => '1 hour',
                                         max_length => 100, overflow => 'drop_oldest', max_inflight => 10,
                                         dedup_window => '2 hours', unlogged => true)$$,
                'create: every option');
SELECT is(pg_temp.options('opt_all'),
          'vt=00:01:00 max_deliveries=5 dlq=opt_dlq ttl=01:00:00 max_length=100 overflow=drop_oldest max_inflight=10 dedup=02:00:00 unlogged=t',
          'every option is stored as given');
SELECT lives_ok($$SELECT mq_create_queue('opt_limits', max_deliveries => 1, message_ttl => '1 microsecond',
                                         max_length => 1, max_inflight => 1, dedup_window => '0')$$,
                'create: the smallest values');
SELECT is(pg_temp.options('opt_limits'),
          'vt=00:00:30 max_deliveries=1 dlq= ttl=00:00:00.000001 max_length=1 overflow=reject max_inflight=1 dedup=00:00:00 unlogged=f',
          'the smallest values are stored as given');

-- Duplicates: 42710, or a notice with if_not_exists (options unchanged).
SELECT throws_ok($$SELECT mq_create_queue('opt_q')$$, '42710', 'queue "opt_q" already exists', 'create: duplicate name');
SELECT throws_ok($$SELECT mq_create_queue('opt_q', visibility_timeout => '1 second')$$, '42710', NULL, 'create: duplicate name with other options');
SELECT lives_ok($$SELECT mq_create_queue('opt_q', visibility_timeout => '1 second', if_not_exists => true)$$, 'create: duplicate with if_not_exists');
SELECT is(pg_temp.options('opt_q'), :'opt_q_options', 'the existing queue kept its options');
SELECT results_eq($$SELECT body FROM mq_peek('opt_q')$$, $$VALUES ('"kept"'::jsonb)$$, 'and its message');
-- Invalid values are still rejected with if_not_exists on an existing queue.
SELECT throws_ok($$SELECT mq_create_queue('opt_q', visibility_timeout => '-1 second', if_not_exists => true)$$, '22023', NULL, 'create: if_not_exists does not skip validation');

-- mq_alter_queue: invalid values and unsupported options, each leaving the
-- queue as it was.
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', visibility_timeout => '-1 second')$$, '22023', NULL, 'alter: negative visibility_timeout');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dedup_window => '-1 minute')$$, '22023', NULL, 'alter: negative dedup_window');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', message_ttl => '-1 minute')$$, '22023', NULL, 'alter: negative message_ttl');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_deliveries => 0)$$, '22023', NULL, 'alter: max_deliveries 0');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_length => -5)$$, '22023', NULL, 'alter: max_length -5');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_inflight => -5)$$, '22023', NULL, 'alter: max_inflight -5');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', overflow => 'foo')$$, '22023', NULL, 'alter: overflow foo');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dead_letter_queue => 'no;such')$$, '22023', NULL, 'alter: dead_letter_queue with a semicolon');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', visibility_timeout => '1 hour', dedup_window => '-1 second')$$, '22023', NULL, 'alter: one bad option fails the whole call');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_deliveries => 3, overflow => 'foo')$$, '22023', NULL, 'alter: invalid overflow with a valid max_deliveries');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', message_ttl => '0')$$, '22023', NULL, 'alter: message_ttl 0');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_length => 0)$$, '22023', NULL, 'alter: max_length 0');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_inflight => 0)$$, '22023', NULL, 'alter: max_inflight 0');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_deliveries => 0)$$, '22023', NULL, 'alter: max_deliveries 0 again');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dead_letter_queue => 'opt_nowhere')$$, '42704', 'dead-letter queue "opt_nowhere" does not exist', 'alter: unknown dead_letter_queue');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dead_letter_queue => 'opt_topic')$$, '42809', NULL, 'alter: a topic as dead_letter_queue');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dead_letter_queue => 'opt_q')$$, '22023', NULL, 'alter: the queue as its own dead_letter_queue');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_length => 10, dead_letter_queue => 'opt_nowhere')$$, '42704', NULL, 'alter: an unknown dead_letter_queue fails the whole call');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', max_length => 10, reset => '{max_length}')$$, '22023', NULL, 'alter: an option both set and reset');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', unlogged => true, reset => '{unlogged}')$$, '22023', NULL, 'alter: unlogged both set and reset');

-- reset: unknown names and NULL elements.
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => '{no_such_option}')$$, '22023', NULL, 'alter: reset of an unknown option');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => '{visibility_timeout, nope}')$$, '22023', NULL, 'alter: reset with one unknown option among known ones');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => '{if_not_exists}')$$, '22023', NULL, 'alter: if_not_exists is not an option');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => '{queue}')$$, '22023', NULL, 'alter: queue is not an option');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => '{""}')$$, '22023', NULL, 'alter: reset of an empty name');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', reset => ARRAY[NULL]::text[])$$, '22023', NULL, 'alter: reset containing NULL');
SELECT throws_ok($$SELECT mq_alter_queue('opt_q', dedup_window => '1 minute', reset => '{bogus}')$$, '22023', NULL, 'alter: a bad reset fails the whole call');
SELECT is(pg_temp.options('opt_q'), :'opt_q_options', 'no failed alter changed the queue');

-- Accepted alterations: NULL keeps, reset restores, supported values set.
SELECT lives_ok($$SELECT mq_alter_queue('opt_q', visibility_timeout => NULL, max_deliveries => NULL,
                                        dead_letter_queue => NULL, message_ttl => NULL, max_length => NULL,
                                        overflow => NULL, max_inflight => NULL, dedup_window => NULL,
                                        unlogged => NULL, reset => NULL)$$,
                'alter: every option NULL');
SELECT is(pg_temp.options('opt_q'), :'opt_q_options', 'NULL options leave the queue unchanged');
SELECT lives_ok($$SELECT mq_alter_queue('opt_q', visibility_timeout => '1 minute', max_deliveries => 5,
                                        dead_letter_queue => 'opt_dlq', message_ttl => '1 hour',
                                        max_length => 100, overflow => 'drop_oldest', max_inflight => 10,
                                        dedup_window => '2 hours', unlogged => true)$$,
                'alter: every option');
SELECT is(pg_temp.options('opt_q'), pg_temp.options('opt_all'), 'every option is set');
SELECT lives_ok($$SELECT mq_alter_queue('opt_q', reset => '{visibility_timeout, max_deliveries, dead_letter_queue, message_ttl, max_length, overflow, max_inflight, dedup_window, unlogged}')$$,
                'alter: reset every option');
SELECT is(pg_temp.options('opt_q'), pg_temp.options('opt_defaults'), 'reset restores the defaults');
SELECT results_eq($$SELECT body FROM mq_peek('opt_q')$$, $$VALUES ('"kept"'::jsonb)$$, 'altering keeps the messages');

-- A queue that others use as their dead-letter queue cannot be dropped:
-- 2BP01, naming them, also with if_exists; nothing is dropped.
SELECT throws_ok($$SELECT mq_drop_queue('opt_dlq')$$, '2BP01',
                 'cannot drop queue "opt_dlq" because other queues use it as their dead-letter queue',
                 'drop: a dead-letter queue in use');
SELECT throws_ok($$SELECT mq_drop_queue('opt_dlq', if_exists => true)$$, '2BP01', NULL, 'drop: a dead-letter queue in use, with if_exists');
SELECT lives_ok($$SELECT mq_alter_queue('opt_q', dead_letter_queue => 'opt_dlq')$$, 'a second queue uses it');
CREATE FUNCTION pg_temp.drop_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    PERFORM mq_drop_queue(q);
    RETURN 'dropped';
EXCEPTION WHEN dependent_objects_still_exist THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$$;
SELECT is(pg_temp.drop_detail('opt_dlq'), 'Used by: opt_all, opt_q.', 'the detail names every queue that uses it');
SELECT ok(EXISTS (SELECT FROM mq_queues WHERE queue = 'opt_dlq'), 'the dead-letter queue is still there');
SELECT lives_ok($$SELECT mq_alter_queue('opt_q', reset => '{dead_letter_queue}')$$, 'one user resets its dead_letter_queue');
SELECT is(pg_temp.drop_detail('opt_dlq'), 'Used by: opt_all.', 'the detail names the one user left');
SELECT lives_ok($$SELECT mq_alter_queue('opt_all', dead_letter_queue => 'opt_defaults')$$, 'the other one changes it');
SELECT is(pg_temp.drop_detail('opt_dlq'), 'dropped', 'then the queue can be dropped');

-- Unknown queues.
SELECT throws_ok($$SELECT mq_alter_queue('opt_missing')$$, '42704', NULL, 'alter: unknown queue, no options');
SELECT throws_ok($$SELECT mq_alter_queue('opt_missing', reset => '{visibility_timeout}')$$, '42704', NULL, 'alter: unknown queue with reset');
SELECT throws_ok($$SELECT mq_alter_queue('opt_missing', visibility_timeout => '-1 s')$$, '22023', NULL, 'alter: an invalid value is reported before the unknown queue');
SELECT throws_ok($$SELECT mq_purge('opt_missing')$$, '42704', NULL, 'purge: unknown queue');
SELECT throws_ok($$SELECT mq_drop_queue('opt_missing')$$, '42704', 'queue "opt_missing" does not exist', 'drop: unknown queue');
SELECT is(mq_drop_queue('opt_missing', if_exists => true), false, 'drop: unknown queue with if_exists returns false');

-- mq_drop_queue: if_exists NULL.
SELECT throws_ok($$SELECT mq_drop_queue('opt_q', NULL)$$, '22023', NULL, 'drop: if_exists NULL');
SELECT throws_ok($$SELECT mq_drop_queue('opt_missing', if_exists => NULL)$$, '22023', NULL, 'drop: if_exists NULL on an unknown queue');
SELECT ok(EXISTS (SELECT FROM mq_queues WHERE queue = 'opt_q'), 'the queue survived the failed drops');

-- Successful drops return true; afterwards the name is unknown.
SELECT is(mq_drop_queue('opt_q'), true, 'drop returns true');
SELECT is(mq_drop_queue('opt_q', if_exists => true), false, 'a second drop with if_exists returns false');
SELECT throws_ok($$SELECT mq_drop_queue('opt_q')$$, '42704', NULL, 'a second drop fails');
SELECT throws_ok($$SELECT mq_send('opt_q', '1')$$, '42704', NULL, 'a dropped queue is unknown to mq_send');

-- A dropped name can be created again, with the defaults.
SELECT lives_ok($$SELECT mq_create_queue('opt_q')$$, 're-create a dropped name');
SELECT is(pg_temp.options('opt_q'), pg_temp.options('opt_defaults'), 'the new queue has the default options');
SELECT is((SELECT depth FROM mq_queues WHERE queue = 'opt_q'), 0::bigint, 'and no messages');

SELECT * FROM finish();
ROLLBACK;
