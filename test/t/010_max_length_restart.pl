# max_length after a restart: the committed depth lives in shared memory and
# is rebuilt from the table, so a queue that was full before a clean
# shutdown, an immediate shutdown or a backend crash is still full
# afterwards (53400), and acking one message makes room for exactly one.
#
# The table holds more than the committed messages: rows of acked messages
# not yet vacuumed, rows of transactions that had sent (or acked) but not
# committed when the server went down.  None of them count; a leased
# message does.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('max_length', restart_after_crash => 1,
	conf => [ 'autovacuum = off' ]);
my $max = 5;

sub depth
{
	my ($q) = @_;
	return $node->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = '$q'");
}

# The SQLSTATE of a send ('' when it succeeds).
sub send_state
{
	my ($q, $what) = @_;
	$what //= "mq_send('$q', '{}')";
	my ($state) = QueueTest::sql_error($node, "SELECT $what");
	return $state;
}

sub ack_one
{
	my ($q) = @_;
	return $node->safe_psql('postgres',
		"SELECT mq_ack('$q', receipt) FROM mq_read('$q', 1, '1 hour')");
}

for my $how ('fast', 'immediate', 'crash')
{
	# full: committed to max_length, with dead rows in the table, one
	# message leased and one being acked by an open transaction.
	my $full = "full_$how";
	$node->safe_psql(
		'postgres', qq{
		SELECT mq_create_queue('$full', max_length => $max);
		SELECT mq_send('$full', jsonb_build_object('n', i)) FROM generate_series(1, $max) i;
	});
	is(ack_one($full), 't', "$how: ack before the restart");
	is(ack_one($full), 't', "$how: another ack before the restart");
	is(send_state($full), '', "$how: send into the freed place");
	is(send_state($full), '', "$how: send into the other freed place");
	is(send_state($full), '53400', "$how: full before the restart");
	is( $node->safe_psql('postgres', "SELECT count(*) FROM mq_read('$full', 1, '1 hour')"),
		'1', "$how: one message leased at the restart");
	my $untouched = "untouched_$how";
	$node->safe_psql(
		'postgres', qq{
		SELECT mq_create_queue('$untouched', max_length => $max);
		SELECT mq_send('$untouched', jsonb_build_object('n', i)) FROM generate_series(1, $max) i;
	});
	my $acking = QueueTest::session($node);
	QueueTest::session_query($acking, 'BEGIN');
	my ($out) = QueueTest::session_query($acking,
		"SELECT mq_ack('$full', receipt) FROM mq_read('$full', 1, '1 hour')");
	is($out, 't', "$how: one message acked by a transaction open at the restart");

	# open: three committed, four more sent by two transactions open at the
	# restart (one of them a batch).
	my $open = "open_$how";
	$node->safe_psql(
		'postgres', qq{
		SELECT mq_create_queue('$open', max_length => $max);
		SELECT mq_send('$open', jsonb_build_object('n', i)) FROM generate_series(1, 3) i;
	});
	my $single = QueueTest::session($node);
	QueueTest::session_query($single, 'BEGIN');
	($out) = QueueTest::session_query($single,
		"SELECT count(mq_send('$open', '{\"open\": 1}')) FROM generate_series(1, 2)");
	is($out, '2', "$how: two sends in a transaction open at the restart");
	my $batch = QueueTest::session($node);
	QueueTest::session_query($batch, 'BEGIN');
	($out) = QueueTest::session_query($batch,
		"SELECT count(*) FROM mq_send_batch('$open', ARRAY['{\"open\": 2}', '{\"open\": 3}']::jsonb[])");
	is($out, '2', "$how: a batch of two in another open transaction");

	QueueTest::restart($node, $how);
	QueueTest::session_close($_) for $acking, $single, $batch;

	# full is still full.
	is(depth($full), $max, "$how: full: depth after the restart");
	is(send_state($full), '53400', "$how: full: a send is rejected after the restart");
	is( send_state($full, "mq_send_batch('$full', ARRAY['{}']::jsonb[])"),
		'53400', "$how: full: a batch send is rejected after the restart");

	# An ack that commits while the depth is being rebuilt (or after) is
	# counted once.  The rejected sends above may have rebuilt it already;
	# a queue untouched since the restart rebuilds it with the send below.
	for my $q ($full, "untouched_$how")
	{
		my $s = QueueTest::session($node);
		QueueTest::session_query($s, 'BEGIN');
		($out) = QueueTest::session_query($s,
			"SELECT mq_ack('$q', receipt) FROM mq_read('$q', 1, '1 hour')");
		is($out, 't', "$how: $q: ack one in an open transaction");
		is(send_state($q), '53400', "$how: $q: still full while the ack is open");
		QueueTest::session_query($s, 'COMMIT');
		QueueTest::session_close($s);
	}
	is(send_state("untouched_$how"), '', "$how: untouched: one send succeeds after the ack");
	is(send_state("untouched_$how"), '53400', "$how: untouched: the next send is rejected");
	is(send_state($full), '', "$how: full: one send succeeds after the ack");
	is(send_state($full), '53400', "$how: full: the next send is rejected");
	is(depth($full), $max, "$how: full: depth is max_length");

	# open: only the three committed messages count.
	is(depth($open), '3', "$how: open: uncommitted sends are not there");
	is( send_state($open, "mq_send_batch('$open', ARRAY['{}', '{}', '{}']::jsonb[])"),
		'53400', "$how: open: a batch beyond max_length is rejected");
	is(depth($open), '3', "$how: open: the rejected batch sent nothing");
	is( send_state($open, "mq_send_batch('$open', ARRAY['{}', '{}']::jsonb[])"),
		'', "$how: open: a batch up to max_length succeeds");
	is(send_state($open), '53400', "$how: open: then the queue is full");
	is(ack_one($open), 't', "$how: open: ack one");
	is(send_state($open), '', "$how: open: one send succeeds after the ack");
	is(send_state($open), '53400', "$how: open: the next send is rejected");
	is(depth($open), $max, "$how: open: depth is max_length");
}

$node->stop;
done_testing();
