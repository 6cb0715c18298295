# Stream retention (SPEC section 5): the background worker rotates
# segments, seals them and drops whole segments whose records are all
# beyond max_messages / max_bytes / max_age -- never a record that is not
# beyond a limit, and no row-by-row DELETE.  While producers append and a
# group lags behind, the stream's storage stays bounded; the lagging group
# continues from the earliest retained record; positions never go back,
# not even after a restart once every record of a partition is gone.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = QueueTest::new_node('retention',
	conf => [ "queue.segment_size = '64kB'", "queue.naptime = '100ms'" ]);
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{SELECT mq_create_stream('ret', partitions => 2, max_messages => 3000)});
sql(q{SELECT mq_create_group('ret', 'slow')});
my $id = sql(q{SELECT id FROM mq.objects WHERE name = 'ret'});
my $storage = qq{SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                 WHERE c.relnamespace = 'mq'::regnamespace AND c.relname ~ '^s_${id}_[0-9]+\$'};

# Producers: 60 000 records of about 120 bytes, in batches, keys spread
# over both partitions; a reader of the group takes 10 records twice early on
# and then falls behind.
my $max_storage = 0;
my $appended = 0;
for my $batch (1 .. 60)
{
	sql(qq{SELECT count(*) FROM mq_append_batch('ret',
	         (SELECT array_agg(jsonb_build_object('n', $batch * 1000 + i, 'pad', repeat('x', 80)))
	            FROM generate_series(1, 1000) i),
	         keys => (SELECT array_agg('k' || i) FROM generate_series(1, 1000) i))});
	$appended += 1000;
	sql(q{SELECT count(*) FROM mq_consume('ret', 'slow', 10)}) if $batch <= 20 && $batch % 10 == 0;
	my $size = sql($storage);
	$max_storage = $size if $size > $max_storage;
	usleep(50_000);
}
# Let the worker catch up.
ok( defined QueueTest::poll_until($node, 'postgres',
		q{SELECT bool_and(first_position > 0) FROM mq_streams WHERE stream = 'ret'}, 't', 30),
	'old segments are dropped');
my $segments = sql("SELECT count(*) FROM mq.stream_segments WHERE stream = $id");
my $size = sql($storage);
note("segments: $segments, storage now $size bytes, at most $max_storage while appending");
cmp_ok($max_storage, '<', 4_000_000,
	'storage stays bounded while 60 000 records (about 9 MB of rows) are appended');

# No record went before it was beyond max_messages: every partition keeps
# at least its last 3000 positions.
my $rows = sql(q{SELECT partition, first_position, next_position, records FROM mq_streams
                 WHERE stream = 'ret' ORDER BY partition});
for my $row (split /\n/, $rows)
{
	my ($p, $first, $next, $records) = split /\|/, $row;
	cmp_ok($next - $first, '>=', 3000, "partition $p: its last 3000 positions are all kept");
	cmp_ok($first, '>', 0, "partition $p: older records are gone");
	is($records, $next - $first, "partition $p: the retained positions have no holes");
}

is(sql(q{SELECT bool_and(ok) FROM (
            SELECT array_agg(r."position" ORDER BY r.n) = array_agg(r."position" ORDER BY r."position") AS ok
              FROM generate_series(0, 1) p,
                   LATERAL mq_stream_read('ret', p, 0, 10000) WITH ORDINALITY
                       AS r(partition, "position", key, body, headers, appended_at, n)
             GROUP BY p) x}), 't', 'reads across segments come in position order');

# The lagging group continues from the earliest retained record.
my $resumed = sql(q{SELECT r.partition || ':' || r."position" || ':' ||
                         CASE WHEN r."position" = s.first_position THEN 'first' ELSE 'later' END
                    FROM mq_consume('ret', 'slow', 1) r
                    JOIN mq_streams s ON s.stream = 'ret' AND s.partition = r.partition});
like($resumed, qr/:first$/, 'the lagging group resumes at the earliest retained record')
  or diag($resumed);
is(sql(q{SELECT count(*) FROM mq_groups g JOIN mq_streams s USING (stream, partition)
          WHERE g.stream = 'ret' AND g.lag <> s.next_position - greatest(g."position", s.first_position)}), '0',
	'its lag counts retained records only');

# Nothing was deleted row by row.
is(sql(qq{SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables
          WHERE schemaname = 'mq' AND relname ~ '^s_${id}_[0-9]+\$'}), '0',
	'no row of the stream was deleted');

# max_age: every record goes once it is older, the partitions' positions
# still go on after a restart.
sql(q{SELECT mq_create_stream('aged', max_age => '1 second')});
sql(q{SELECT count(*) FROM mq_append_batch('aged', array_fill('{"old": true}'::jsonb, ARRAY[500]))});
ok( defined QueueTest::poll_until($node, 'postgres',
		q{SELECT records FROM mq_streams WHERE stream = 'aged'}, '0', 30),
	'max_age: the records go once older than max_age');
$node->restart;
is(sql(q{SELECT "position" FROM mq_append('aged', '{"new": true}')}), '500',
	'after a restart the positions go on after the removed records');
is(sql(q{SELECT "position" || ':' || body FROM mq_stream_read('aged', 0, 0)}), '500:{"new": true}',
	'and the new record is read from there');

# A new segment while a transaction that appended is still open: its next
# record goes to the new segment too, after the records committed there
# meanwhile; the old segment is sealed only once it has ended; reading
# returns everything in position order.
sql(q{SELECT mq_create_stream('rot')});
my $rid = sql(q{SELECT id FROM mq.objects WHERE name = 'rot'});
my $open = QueueTest::session($node);
QueueTest::session_query($open, 'BEGIN');
my ($first) = QueueTest::session_query($open, q{SELECT "position" FROM mq_append('rot', '"open 1"')});
# The open transaction keeps its lock on the segment it appended to: the
# worker seals only segments nobody holds so.
is( sql(qq{SELECT string_agg(l.mode, ',') FROM pg_locks l
	          WHERE l.relation = 'mq.s_${rid}_0'::regclass AND l.granted
	            AND l.pid <> pg_backend_pid()}),
	'RowExclusiveLock', 'rotation: the appending transaction holds its segment until it ends');
sql(q{SELECT count(*) FROM mq_append_batch('rot', array_fill(jsonb_build_object('pad', repeat('z', 200)), ARRAY[400]))});
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) FROM mq.stream_segments WHERE stream = $rid", '2', 30),
	'rotation: a new segment while a transaction that appended is open');
my $between = sql(q{SELECT "position" FROM mq_append('rot', '"committed in the new segment"')});
my ($second) = QueueTest::session_query($open, q{SELECT "position" FROM mq_append('rot', '"open 2"')});
cmp_ok($second, '>', $between, 'rotation: the open transaction appends after the newer records');
# Give the worker rounds (naptime 100 ms) to try to seal the old segment.
sleep(1);
is(sql("SELECT sealed FROM mq.stream_segments WHERE stream = $rid ORDER BY seg LIMIT 1"), 'f',
	'rotation: the old segment is not sealed while the transaction is open');
QueueTest::session_query($open, 'COMMIT');
QueueTest::session_close($open);
is(sql(qq{SELECT count(*) FROM mq.s_${rid}_1 WHERE "position" IN ($between, $second)}), '2',
	'rotation: both records are in the new segment');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT sealed FROM mq.stream_segments WHERE stream = $rid ORDER BY seg LIMIT 1", 't', 30),
	'rotation: sealed once the transaction has ended');
is(sql(q{SELECT count(*) = max("position") + 1
                AND array_agg("position" ORDER BY n) = array_agg("position" ORDER BY "position")
           FROM mq_stream_read('rot', 0, 0, 10000) WITH ORDINALITY
                AS r(partition, "position", key, body, headers, appended_at, n)}), 't',
	'rotation: every record, in position order, across the segments');
sql(q{SELECT mq_drop_stream('rot')});

# Dropping streams while the worker maintains them: neither waits for the
# other (the worker skips a stream while DDL holds the catalog).
my $errors = 0;
for my $i (1 .. 25)
{
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SELECT mq_create_stream('churn', max_messages => 10);
		SELECT count(*) FROM mq_append_batch('churn', array_fill(jsonb_build_object('pad', repeat('y', 200)), ARRAY[600]));
		SELECT pg_sleep(0.05 * ($i % 4));
		SELECT mq_drop_stream('churn');});
	$errors++ if $ret != 0;
	diag($err) if $ret != 0;
}
is($errors, 0, 'streams dropped while the worker maintains them: no deadlock, no error');
is(sql(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'mq'::regnamespace
          AND relkind = 'r' AND relname ~ '^s_'}),
	sql(q{SELECT 2 * count(*) + (SELECT count(*) FROM mq.stream_segments) FROM mq.streams}),
	'no table of a dropped stream is left behind (two per stream and its segments)');

$node->stop;
done_testing();
