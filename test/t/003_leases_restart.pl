# Leases do not survive a restart: messages that were leased (vt 1 hour)
# and not acked are ready again at once after a clean shutdown, an immediate
# shutdown, or a backend crash that makes the postmaster reinitialise.
# Their delivery count includes the earlier delivery (after a clean
# shutdown, and after a crash once a later commit has flushed the WAL), and
# a receipt issued before the restart acks, nacks and extends nothing.
# A retry delay kept in shared memory ends with the restart too.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('leases', restart_after_crash => 1);
$node->safe_psql('postgres', 'CREATE TABLE marker (n int)');

sub rows
{
	my ($sql) = @_;
	return [ map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', $sql) ];
}

sub figures
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"SELECT depth, ready, inflight FROM mq_queues WHERE queue = '$queue'");
}

for my $mode ('fast', 'immediate', 'crash')
{
	my $q = "q_$mode";
	$node->safe_psql('postgres',
		"SELECT mq_create_queue('$q');
		 SELECT mq_send('$q', jsonb_build_object('n', i)) FROM generate_series(1, 5) i");
	my $all = join ',',
	  map { $_->[0] } @{ rows("SELECT id FROM mq_peek('$q') ORDER BY id") };

	my $leased = rows("SELECT id, receipt, deliveries FROM mq_read('$q', 3, '1 hour')");
	is(join(',', map { $_->[2] } @$leased), '1,1,1', "$mode: first delivery counted");
	is(figures($q), '5|2|3', "$mode: three messages leased before the restart");
	my @old = map { $_->[1] } @$leased;
	my %was_leased = map { $_->[0] => 1 } @$leased;

	if ($mode eq 'fast')
	{
		$node->stop('fast');
		$node->start;
	}
	else
	{
		# A later commit flushes the WAL that carries the delivery counts.
		$node->safe_psql('postgres', 'INSERT INTO marker VALUES (1)');
		if ($mode eq 'immediate')
		{
			$node->stop('immediate');
			$node->start;
		}
		else
		{
			QueueTest::crash_backend($node);
		}
	}

	# At once, without waiting for the leases to end.
	is(figures($q), '5|5|0', "$mode: no lease survived");
	is( join(',', map { $_->[0] } @{ rows("SELECT id FROM mq_peek('$q') ORDER BY id") }),
		$all, "$mode: every message is ready at once");

	my ($state) = QueueTest::sql_error($node, "SELECT mq_ack('$q', $old[0])");
	is($state, '55000', "$mode: strict ack of an old receipt raises 55000");
	($state) = QueueTest::sql_error($node, "SELECT mq_ack('$q', ARRAY[$old[1]]::bigint[])");
	is($state, '55000', "$mode: strict batch ack of an old receipt raises 55000");
	($state) = QueueTest::sql_error($node, "SELECT mq_nack('$q', $old[1])");
	is($state, '55000', "$mode: strict nack of an old receipt raises 55000");
	($state) = QueueTest::sql_error($node, "SELECT mq_extend('$q', $old[2], '1 hour')");
	is($state, '55000', "$mode: strict extend of an old receipt raises 55000");
	is( $node->safe_psql(
			'postgres',
			"SELECT mq_ack('$q', $old[0], strict => false),
			        mq_ack('$q', ARRAY[$old[0]], false),
			        mq_nack('$q', $old[1], strict => false),
			        mq_extend('$q', $old[2], '1 hour', strict => false)"),
		'f|0|f|f',
		"$mode: non-strict ack, nack and extend of old receipts do nothing");
	is(figures($q), '5|5|0', "$mode: old receipts changed nothing");

	# Read everything again: the earlier delivery counts.
	my $again = rows(
		"SELECT id, receipt, deliveries FROM mq_read('$q', 10, '1 hour') ORDER BY id");
	is(join(',', map { $_->[0] } @$again), $all, "$mode: all messages delivered again");
	is( join(',', map { "$_->[0]:$_->[2]" } @$again),
		join(',', map { "$_->[0]:" . ($was_leased{ $_->[0] } ? 2 : 1) } @$again),
		"$mode: deliveries include the delivery before the restart");

	# Old receipts do not name the new deliveries.
	($state) = QueueTest::sql_error($node, "SELECT mq_ack('$q', $old[0])");
	is($state, '55000', "$mode: old receipt does not ack the new delivery");
	is( $node->safe_psql(
			'postgres',
			"SELECT mq_ack('$q', ARRAY[" . join(',', @old) . "]::bigint[], false)"),
		'0',
		"$mode: non-strict ack of old receipts acks nothing");
	is(figures($q), '5|0|5', "$mode: every message still there, leased");

	my $new = join ',', map { $_->[1] } @$again;
	is($node->safe_psql('postgres', "SELECT mq_ack('$q', ARRAY[$new]::bigint[])"),
		'5', "$mode: new receipts ack");
	is(figures($q), '0|0|0', "$mode: queue empty");
}

# A retry delay held in shared memory (after a rolled-back read, or a lease
# that ended) ends with a restart: the message is ready at once, never
# later.
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('retry_restart', retry_delay => '1 hour', retry_backoff => 'fixed');
	SELECT mq_send('retry_restart', '"rolled back"');
	SELECT mq_send('retry_restart', '"expired"');
});
$node->safe_psql('postgres',
	"BEGIN; SELECT count(*) FROM mq_read('retry_restart', 1); ROLLBACK;");
$node->safe_psql('postgres', "SELECT count(*) FROM mq_read('retry_restart', 1, vt => '0')");
is($node->safe_psql('postgres', "SELECT count(*) FROM mq_read('retry_restart', 2)"),
	'0', 'retry delays: both messages wait before the restart');
is(figures('retry_restart'), '2|0|2', 'retry delays: both count as in flight');
$node->restart;
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(body #>> '{}', ',' ORDER BY id) FROM mq_read('retry_restart', 2)"),
	'rolled back,expired',
	'retry delays: both ready at once after a restart');

$node->stop;
done_testing();
