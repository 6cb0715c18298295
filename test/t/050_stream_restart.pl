# Stream positions across crashes, restarts and a promotion (SPEC section
# 5).  After an immediate shutdown, a crash of a backend (every backend
# restarts) or a clean restart, the positions of every partition continue
# right after the highest committed one: committed records are all there,
# in order, appends that were in progress are gone (holes, as after a
# rollback, and nowhere else), and the next append takes the next position.  A standby refuses stream reads (0A000)
# and, once promoted, continues the positions the same way.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('streams', restart_after_crash => 1,
	conf => [ 'wal_level = replica', 'max_wal_senders = 4' ]);
sub sql { my ($n, $q) = @_; return $n->safe_psql('postgres', $q); }

sql($node, q{SELECT mq_create_stream('log', partitions => 3)});
my $partitions = 3;

# Every partition's records read back: in order, distinct, and with holes
# only where transactions in progress were lost ($lost per partition).
sub dense
{
	my ($n, $lost) = @_;
	return sql($n, qq{
		SELECT bool_and(ok) FROM (
		  SELECT p, array_agg(r."position" ORDER BY r.n) = array_agg(r."position" ORDER BY r."position")
		            AND count(DISTINCT r."position") = count(*)
		            AND max(r."position") + 1 - count(*) = $lost AS ok
		    FROM generate_series(0, 2) p,
		         LATERAL mq_stream_read('log', p, 0, 10000) WITH ORDINALITY
		             AS r(partition, "position", key, body, headers, appended_at, n)
		   GROUP BY p) x});
}

# The next append to each partition (by a key that lands there).
sub next_positions
{
	my ($n) = @_;
	my @keys = split /\n/, sql($n, q{
		SELECT DISTINCT ON (p) k FROM (
		  SELECT 'k' || i AS k, (SELECT partition FROM mq_append('probe', '{}', key => 'k' || i)) AS p
		    FROM generate_series(1, 50) i) x ORDER BY p, k});
	return join ' ', map {
		sql($n, "SELECT partition || ':' || \"position\" FROM mq_append('log', '\"next\"', key => '$_')")
	} @keys;
}
sql($node, q{SELECT mq_create_stream('probe', partitions => 3)});

my $round = 0;
my $total = 0;
for my $how ('immediate', 'crash', 'fast')
{
	$round++;
	sql($node, "SELECT count(*) FROM mq_append_batch('log', array_fill('{\"r\": $round}'::jsonb, ARRAY[30]))");

	# Appends in progress when the server goes down: they hold positions.
	my $s = QueueTest::session($node);
	QueueTest::session_query($s, 'BEGIN');
	QueueTest::session_query($s,
		q{SELECT count(*) FROM mq_append_batch('log', array_fill('"lost"'::jsonb, ARRAY[9]))});
	sql($node, q{SELECT count(*) FROM mq_append_batch('log', array_fill('"committed after"'::jsonb, ARRAY[6]))});
	my $visible = sql($node,
		q{SELECT count(*) FROM generate_series(0, 2) p, LATERAL mq_stream_read('log', p, 0, 10000)});
	is($visible, $total + 30, "$how: records committed behind a held position wait");

	QueueTest::restart($node, $how);
	eval { $s->quit };

	my $after = sql($node, q{SELECT sum(records) FROM mq_streams WHERE stream = 'log'});
	is($after, $visible + 6, "$how: every committed record is there, none in progress");
	is(sql($node, q{SELECT count(*) FROM generate_series(0, 2) p, LATERAL mq_stream_read('log', p, 0, 10000)}),
		$after, "$how: all of them readable");
	is(sql($node, q{SELECT count(*) FROM generate_series(0, 2) p, LATERAL mq_stream_read('log', p, 0, 10000) r
	                 WHERE r.body = '"lost"'}), '0', "$how: nothing of the transaction in progress");
	my $expected = join ' ', map {
		my $p = $_;
		sql($node, "SELECT $p || ':' || coalesce(max(\"position\") + 1, 0) FROM mq_stream_read('log', $p, 0, 10000)")
	} 0 .. $partitions - 1;
	is(next_positions($node), $expected, "$how: each partition continues after its highest committed position");
	is(dense($node, 3 * $round), 't', "$how: positions dense in every partition but for the lost appends");
	$total = $after + $partitions;
}

# A standby: stream reads are refused; after the promotion positions go on.
my $standby = QueueTest::new_standby($node, 'streams_standby');
my ($ret, $out, $err) = $standby->psql('postgres', q{SELECT * FROM mq_stream_read('log', 0, 0)});
like($err, qr/during recovery/, 'standby: mq_stream_read is refused');
($ret, $out, $err) = $standby->psql('postgres', q{\set VERBOSITY verbose
SELECT * FROM mq_stream_read('log', 0, 0)});
like($err, qr/0A000/, 'standby: with 0A000');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM mq_streams WHERE stream = 'log' AND records IS NULL}),
	$partitions, 'standby: the view shows NULL figures');

# The primary appends (and holds one position) right before the promotion.
sql($node, q{SELECT count(*) FROM mq_append_batch('log', array_fill('"before promotion"'::jsonb, ARRAY[12]))});
$node->wait_for_catchup($standby);
my $expected = join ' ', map {
	my $p = $_;
	sql($node, "SELECT $p || ':' || coalesce(max(\"position\") + 1, 0) FROM mq_stream_read('log', $p, 0, 10000)")
} 0 .. $partitions - 1;
$node->stop('immediate');
$standby->promote;
is(next_positions($standby), $expected, 'promoted: each partition continues after its highest committed position');
is(dense($standby, 3 * $round), 't', 'promoted: positions dense in every partition but for the lost appends');

$standby->stop;
done_testing();
