# The stable end of a stream partition (SPEC sections 5 and 9): a reader
# never returns a position above one still held by a transaction in
# progress, so neither a stateless reader nor a consumer group passes a
# record that commits late.
#
# 1. The interleaving that once lost records, made deterministic: a reader
#    is delayed between taking the partition's end and scanning (by a lock
#    on an older segment, as the retention worker takes); meanwhile A takes
#    position p and stays open, B takes p + 1 and commits.  The reader must
#    not return p + 1 before A has ended, nor may a consumer group commit
#    past p.  Also with the partition's counter not yet known (after a
#    restart, before any append).
# 2. A concurrent run: appenders holding their positions for random times
#    and rolling some back, stateless readers with long scans, group
#    consumers.  Every read is checked against the committed set (logged
#    by the appenders in their own transactions): no read returns a
#    position while a committed position below it, in its range, is
#    missing; the group consumes every committed record exactly once.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = QueueTest::new_node('horizon',
	conf => [ "queue.segment_size = '64kB'", "queue.naptime = '100ms'" ]);
sub sql { return $node->safe_psql('postgres', $_[0]); }

# ---------------------------------------------------------------------
# 1. Deterministic: a reader delayed between its end and its scan.
# ---------------------------------------------------------------------

sql(q{SELECT mq_create_stream('hz')});
sql(q{SELECT mq_create_group('hz', 'g')});
my $id = sql(q{SELECT id FROM mq.objects WHERE name = 'hz'});

# Fill the first segment until the worker starts a second one, and make
# sure appends go there (so a lock on the first does not stop them).
sql(q{SELECT count(*) FROM mq_append_batch('hz',
        array_fill(jsonb_build_object('pad', repeat('z', 200)), ARRAY[400]))});
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) FROM mq.stream_segments WHERE stream = $id", '2', 30),
	'a second segment');
ok( defined QueueTest::poll_until($node, 'postgres',
		qq{SELECT count(*) FROM mq_append('hz', '"probe"');
		   SELECT count(*) > 0 FROM mq.s_${id}_1}, "1\nt", 30),
	'appends go to the second segment');
# The group has read everything so far.
sql(q{SELECT count(*) FROM mq_consume('hz', 'g', 10000)});

# Readers (a stateless read and a consume with one record to read) wait on
# a lock on the first segment after taking the end; A holds p, B commits p + 1; then the lock
# goes.  Returns (read result, consume result, p).
sub delayed_reads
{
	my ($label) = @_;
	my $locker = QueueTest::session($node);
	my $reader = QueueTest::session($node);
	my $consumer = QueueTest::session($node);
	my $a = QueueTest::session($node);

	QueueTest::session_query($locker, 'BEGIN');
	QueueTest::session_query($locker, "LOCK TABLE mq.s_${id}_0 IN ACCESS EXCLUSIVE MODE");
	my @pids = (QueueTest::session_pid($reader), QueueTest::session_pid($consumer));
	# Both scans start with the first segment, whatever position they
	# start from.  (Read from the table: the views would learn the
	# partition's counter.)
	my $start = sql(qq{SELECT max("position") + 1 FROM mq.s_${id}_1});
	QueueTest::session_start($reader,
		qq{SELECT coalesce(string_agg("position"::text, ',' ORDER BY "position"), '')
		     FROM mq_stream_read('hz', 0, $start, 10000)});
	QueueTest::session_start($consumer,
		q{SELECT coalesce(string_agg(body #>> '{}', ',' ORDER BY "position"), '')
		    FROM mq_consume('hz', 'g', 10000)});
	my $waiting = QueueTest::poll_until($node, 'postgres',
		'SELECT count(*) FROM pg_stat_activity WHERE pid IN (' . join(',', @pids)
		  . ") AND wait_event_type = 'Lock'", '2', 30);
	ok(defined $waiting, "$label: the readers wait between end and scan");

	QueueTest::session_query($a, 'BEGIN');
	my ($p) = QueueTest::session_query($a, q{SELECT "position" FROM mq_append('hz', '"A"')});
	my $p1 = sql(q{SELECT "position" FROM mq_append('hz', '"B"')});
	is($p1, $p + 1, "$label: B committed the position after A's");
	QueueTest::session_query($locker, 'COMMIT');
	my ($read) = QueueTest::session_result($reader, 60);
	my ($consumed) = QueueTest::session_result($consumer, 60);

	unlike($read, qr/\b$p1\b/,
		"$label: a stateless read does not return p + 1 while p is in progress")
	  or diag("read: $read (p = $p)");
	is($consumed, 'X', "$label: a consume does not pass p while it is in progress");

	QueueTest::session_query($a, 'COMMIT');
	is(sql(qq{SELECT string_agg(body #>> '{}', ',' ORDER BY "position")
	            FROM mq_stream_read('hz', 0, $p, 10)}), 'A,B',
		"$label: once A commits, p and p + 1 are read in order");
	my $later = sql(q{SELECT string_agg(body #>> '{}', ',' ORDER BY "position")
	                    FROM mq_consume('hz', 'g', 10000)});
	is($later, 'A,B', "$label: the group then consumes A and B, in order");
	QueueTest::session_close($_) for ($locker, $reader, $consumer, $a);
	return;
}

# Each time, the group has one record to read (X), so its scan starts.
sql(q{SELECT mq_append('hz', '"X"')});
delayed_reads('counter known');

# After a restart the partition's counter is unknown until the first
# append or read: the reader must know where it ends all the same.
sql(q{SELECT mq_append('hz', '"X"')});
$node->restart;
delayed_reads('counter unknown');

# ---------------------------------------------------------------------
# 2. Concurrent: appends with random holds, long scans, group consumers.
# ---------------------------------------------------------------------

sql(q{
	SELECT mq_create_stream('st', partitions => 2);
	SELECT mq_create_group('st', 'cg');
	CREATE TABLE appended (partition int, pos bigint, PRIMARY KEY (partition, pos));
	CREATE TABLE reads (rid bigserial PRIMARY KEY, partition int, from_pos bigint,
	                    positions bigint[]);
	CREATE TABLE consumed (partition int, pos bigint);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
# Appenders: the append and its log commit together; a fifth roll back
# (leaving holes); positions are held for up to 20 ms.
append_to_file("$dir/append.sql", q{
\set k random(1, 1000)
\set hold random(0, 20)
\set undo random(1, 5)
BEGIN;
INSERT INTO appended SELECT partition, "position" FROM mq_append('st', '{}', key => 'k' || :k);
SELECT pg_sleep(:hold / 1000.0);
\if :undo = 1
ROLLBACK;
\else
COMMIT;
\endif
});
# Stateless readers scan the last few thousand positions of a partition.
append_to_file("$dir/read.sql", q{
\set p random(0, 1)
INSERT INTO reads (partition, from_pos, positions)
SELECT :p, f, (SELECT coalesce(array_agg("position" ORDER BY "position"), '{}')
                 FROM mq_stream_read('st', :p, f, 10000))
  FROM (SELECT greatest(0, coalesce(max(pos), 0) - 1000) AS f
          FROM appended WHERE partition = :p) x;
});
# Group consumers commit what they take.
append_to_file("$dir/consume.sql", q{
INSERT INTO consumed SELECT partition, "position" FROM mq_consume('st', 'cg', 50);
});

my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[
		'pgbench', '-n', '-T', '25', '-c', '8', '-j', '2',
		'-h', $node->host, '-p', $node->port,
		'-f', "$dir/append.sql\@6", '-f', "$dir/read.sql\@1", '-f', "$dir/consume.sql\@1",
		'postgres'
	],
	'>', \$out, '2>', \$err);
ok($ok, 'the concurrent run ends without errors') or diag($err);
my ($txns) = $out =~ /number of transactions actually processed: (\d+)/;
note("pgbench: $txns transactions");

# Drain the group.
for (1 .. 1000)
{
	last if sql(q{WITH c AS (INSERT INTO consumed SELECT partition, "position"
	                          FROM mq_consume('st', 'cg', 10000) RETURNING 1)
	              SELECT count(*) FROM c}) eq '0';
}

my $appended = sql('SELECT count(*) FROM appended');
my $reads = sql('SELECT count(*) FROM reads WHERE cardinality(positions) > 0');
cmp_ok($appended, '>', 1000, "committed appends ($appended)");
cmp_ok($reads, '>', 100, "stateless reads that returned records ($reads)");

# A read is wrong if a committed position in [from, the highest it
# returned] is missing from it, or if it returned one not committed.
is(sql(q{WITH returned AS (
            SELECT rid, partition, unnest(positions) AS pos FROM reads),
          expected AS (
            SELECT r.rid, a.partition, a.pos FROM reads r
              JOIN appended a ON a.partition = r.partition
               AND a.pos BETWEEN r.from_pos AND r.positions[cardinality(r.positions)]
             WHERE cardinality(r.positions) > 0)
          SELECT (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE returned) m)
               + (SELECT count(*) FROM (TABLE returned EXCEPT ALL TABLE expected) x)}), '0',
	'no stateless read skipped a committed record or returned an uncommitted one');
is(sql(q{SELECT count(*) FROM (SELECT partition, pos FROM appended
                                EXCEPT SELECT partition, pos FROM consumed) x}), '0',
	'the group consumed every committed record');
is(sql(q{SELECT count(*) - count(DISTINCT (partition, pos)) FROM consumed}), '0',
	'the group consumed none twice');
is(sql(q{SELECT count(*) FROM (SELECT partition, pos FROM consumed
                                EXCEPT SELECT partition, pos FROM appended) x}), '0',
	'and consumed nothing that was rolled back');

$node->stop;
done_testing();
