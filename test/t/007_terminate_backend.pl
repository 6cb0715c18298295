# A reader whose backend dies (pg_terminate_backend) or whose transaction
# rolls back gives its leases up at once: another session reads the
# messages right away, and the lost delivery counts.  An ack in a
# transaction of a terminated backend never takes effect: the message stays,
# still leased under the receipt that was being acked.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('terminate');

sub figures
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"SELECT depth, ready, inflight FROM mq_queues WHERE queue = '$queue'");
}

sub terminate
{
	my ($pid) = @_;
	return $node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 30000)");
}

# A session that leased 3 of 4 messages in a transaction that is still open
# (idle in it, or busy with a statement); returns it, its backend pid, the
# leased ids and their receipts.
sub lease_three
{
	my ($q) = @_;
	$node->safe_psql('postgres',
		"SELECT mq_create_queue('$q');
		 SELECT mq_send('$q', jsonb_build_object('n', i)) FROM generate_series(1, 4) i");
	my $s = QueueTest::session($node);
	my ($pid) = QueueTest::session_query($s, 'SELECT pg_backend_pid()');
	QueueTest::session_query($s, 'BEGIN');
	my ($out) = QueueTest::session_query($s,
		"SELECT id, receipt, deliveries FROM mq_read('$q', 3, '1 hour') ORDER BY id");
	my @rows = map { [ split /\|/ ] } split /\n/, $out;
	is(join(',', map { $_->[2] } @rows), '1,1,1', "$q: three messages leased");
	is(figures($q), '4|1|3', "$q: another session sees them in flight");
	return ($s, $pid, [ map { $_->[0] } @rows ], [ map { $_->[1] } @rows ]);
}

sub check_released
{
	my ($q, $ids, $receipts) = @_;
	is(figures($q), '4|4|0', "$q: leases released at once");
	my $again = $node->safe_psql('postgres',
		"SELECT string_agg(id || ':' || deliveries, ',' ORDER BY id)
		   FROM mq_read('$q', 10, '1 hour')");
	my %leased = map { $_ => 1 } @$ids;
	like($again, qr/^(\d+:\d+,){3}\d+:\d+$/, "$q: all four read again");
	my @lost = grep { $leased{ (split /:/)[0] } } split /,/, $again;
	is( join(',', map { (split /:/)[1] } @lost),
		'2,2,2',
		"$q: the lost deliveries count");
	my ($state) = QueueTest::sql_error($node, "SELECT mq_ack('$q', $receipts->[0])");
	is($state, '55000', "$q: the dead reader's receipt does not ack");
	is( $node->safe_psql(
			'postgres',
			"SELECT mq_ack('$q', ARRAY[" . join(',', @$receipts) . "]::bigint[], false)"),
		'0',
		"$q: non-strict ack of the dead reader's receipts acks nothing");
	is(figures($q), '4|0|4', "$q: every message still there");
	return;
}

# Terminated while idle in its transaction.
{
	my ($s, $pid, $ids, $receipts) = lease_three('idle');
	is(terminate($pid), 't', 'idle: backend terminated');
	check_released('idle', $ids, $receipts);
	QueueTest::session_close($s);
}

# Terminated while running a statement in its transaction.
{
	my ($s, $pid, $ids, $receipts) = lease_three('busy');
	$s->{stdin} .= "SELECT pg_sleep(600);\n";
	$s->{run}->pump_nb;
	ok( $node->poll_query_until(
			'postgres',
			"SELECT count(*) FROM pg_stat_activity
			  WHERE pid = $pid AND state = 'active' AND query LIKE '%pg_sleep%'",
			'1'),
		'busy: reader runs a statement');
	is(terminate($pid), 't', 'busy: backend terminated');
	check_released('busy', $ids, $receipts);
	QueueTest::session_close($s);
}

# Rolled back, and rolled back to a savepoint.
{
	my ($s, $pid, $ids, $receipts) = lease_three('rollback');
	QueueTest::session_query($s, 'ROLLBACK');
	check_released('rollback', $ids, $receipts);
	QueueTest::session_close($s);
}
{
	my ($s, $pid, $ids, $receipts) = lease_three('savepoint');
	QueueTest::session_query($s, 'ROLLBACK');
	QueueTest::session_query($s, 'BEGIN');
	QueueTest::session_query($s, 'SAVEPOINT a');
	my ($out) = QueueTest::session_query($s,
		"SELECT string_agg(id || ':' || deliveries, ',' ORDER BY id)
		   FROM mq_read('savepoint', 10, '1 hour')");
	like($out, qr/^(\d+:2,){3}\d+:1$/, 'savepoint: all four read after the savepoint');
	is(figures('savepoint'), '4|0|4', 'savepoint: all four leased after the savepoint');
	QueueTest::session_query($s, 'ROLLBACK TO SAVEPOINT a');
	is(figures('savepoint'), '4|4|0', 'savepoint: released by ROLLBACK TO SAVEPOINT');
	QueueTest::session_query($s, 'COMMIT');
	is( $node->safe_psql(
			'postgres', "SELECT string_agg(deliveries::text, ',' ORDER BY id)
			   FROM mq_peek('savepoint')"),
		'2,2,2,1',
		'savepoint: every delivery counts');
	QueueTest::session_close($s);
}

# An ack in the open transaction of a backend that is terminated.
{
	$node->safe_psql('postgres',
		q{SELECT mq_create_queue('acking'); SELECT mq_send('acking', '{}')});
	my $receipt = $node->safe_psql('postgres',
		"SELECT receipt FROM mq_read('acking', 1, '1 hour')");
	my $s = QueueTest::session($node);
	my ($pid) = QueueTest::session_query($s, 'SELECT pg_backend_pid()');
	QueueTest::session_query($s, 'BEGIN');
	my ($out) = QueueTest::session_query($s, "SELECT mq_ack('acking', $receipt)");
	is($out, 't', 'acking: ack in an open transaction');
	is(figures('acking'), '1|0|1', 'acking: not acked for others yet');
	is(terminate($pid), 't', 'acking: backend terminated');
	QueueTest::session_close($s);
	is(figures('acking'), '1|0|1', 'acking: message still there and still leased');
	is($node->safe_psql('postgres', "SELECT count(*) FROM mq_read('acking', 1)"),
		'0', 'acking: no one else gets it while the lease holds');
	is($node->safe_psql('postgres', "SELECT mq_ack('acking', $receipt)"),
		't', 'acking: the receipt still acks');
	is(figures('acking'), '0|0|0', 'acking: gone once acked');
}

$node->stop;
done_testing();
