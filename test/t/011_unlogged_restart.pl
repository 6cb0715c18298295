# Unlogged queues across restarts: a clean shutdown keeps their messages; an
# immediate shutdown or a backend crash empties them (their storage is
# unlogged) and they go on working: sends, reads, acks, idempotency keys and
# max_length.  A logged queue next to them keeps its messages throughout,
# and a queue switched with mq_alter_queue behaves as it is at the crash.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('unlogged', restart_after_crash => 1);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('u', unlogged => true, max_length => 3);
	SELECT mq_create_queue('l', max_length => 3);
	SELECT mq_create_queue('switched');
});

sub figures
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"SELECT depth, ready, inflight, unlogged FROM mq_queues WHERE queue = '$queue'");
}

sub send_state
{
	my ($q, $key) = @_;
	my $k = defined $key ? ", idempotency_key => '$key'" : '';
	my ($state) = QueueTest::sql_error($node, "SELECT mq_send('$q', '{}'$k)");
	return $state;
}

sub bodies
{
	my ($q) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(body->>'n' || ':' || deliveries, ',' ORDER BY id)
		   FROM mq_peek('$q')");
}

# Three messages in each queue, the first of them leased and so delivered
# once; returns the receipts of the leases.  A first delivery leaves the
# flush of its count to the WAL writer: wait for it.
sub fill
{
	my ($round) = @_;
	my @receipts;
	for my $q ('u', 'l')
	{
		$node->safe_psql('postgres',
			"SELECT mq_send('$q', jsonb_build_object('n', i), idempotency_key => '$round-' || i)
			   FROM generate_series(1, 3) i");
		push @receipts,
		  $node->safe_psql('postgres', "SELECT receipt FROM mq_read('$q', 1, '1 hour')");
	}
	QueueTest::wait_for_wal_flush($node);
	return @receipts;
}

is(figures('u'), '0|0|0|t', 'u is unlogged');
is(figures('l'), '0|0|0|f', 'l is logged');

# A clean shutdown keeps the messages of the unlogged queue.
fill(1);
is(send_state('u'), '53400', 'fast: u is full before the restart');
QueueTest::restart($node, 'fast');
is(figures('u'), '3|3|0|t', 'fast: u keeps its messages, none leased');
is(bodies('u'), '1:1,2:0,3:0', 'fast: u keeps bodies and delivery counts');
is(send_state('u'), '53400', 'fast: u is still full');
is($node->safe_psql('postgres', "SELECT mq_ack('u', receipt) FROM mq_read('u')"),
	't', 'fast: read and ack');
is(send_state('u', '1-2'), '', 'fast: duplicate send to u is not rejected...');
is(figures('u'), '2|2|0|t', '...and sends nothing');
is($node->safe_psql('postgres', 'SELECT mq_purge(\'u\') + mq_purge(\'l\')'),
	'5', 'fast: purged');

for my $how ('immediate', 'crash')
{
	my ($u_receipt, $l_receipt) = fill($how);
	my $u_table = QueueTest::storage_table($node, 'u');
	QueueTest::restart($node, $how);

	is(figures('u'), '0|0|0|t', "$how: u is empty after the crash");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $u_table"),
		'0', "$how: u's storage is empty");
	is(figures('l'), '3|3|0|f', "$how: l keeps its messages");
	is(bodies('l'), '1:1,2:0,3:0', "$how: l keeps bodies and delivery counts");
	my ($state) = QueueTest::sql_error($node, "SELECT mq_ack('u', $u_receipt)");
	is($state, '55000', "$how: a receipt of u from before the crash is unknown");

	# u works: sends up to max_length, idempotency keys, read, ack.
	is(send_state('u', "$how-1"), '', "$how: u takes a send with a key used before the crash");
	is(send_state('u', "$how-1"), '', "$how: a duplicate of it...");
	is(figures('u'), '1|1|0|t', "$how: ...sends nothing");
	is(send_state('u'), '', "$how: u takes a second send");
	is(send_state('u'), '', "$how: u takes a third send");
	is(send_state('u'), '53400', "$how: u is full at max_length again");
	is( $node->safe_psql(
			'postgres', "SELECT count(*) FILTER (WHERE mq_ack('u', receipt))
			               FROM mq_read('u', 10, '1 hour')"),
		'3',
		"$how: u's messages are read and acked");
	is(figures('u'), '0|0|0|t', "$how: u is empty again");
	is(send_state('u'), '', "$how: and takes sends again");
	is($node->safe_psql('postgres', "SELECT mq_purge('u') + mq_purge('l')"),
		'4', "$how: purged");
}

# A queue switched to unlogged loses its messages in a crash; switched back
# to logged, it keeps them.
$node->safe_psql(
	'postgres', q{
	SELECT mq_send('switched', '{"n": 1}');
	SELECT mq_alter_queue('switched', unlogged => true);
	SELECT mq_send('switched', '{"n": 2}');
});
is(figures('switched'), '2|2|0|t', 'switched to unlogged, with its messages');
QueueTest::restart($node, 'immediate');
is(figures('switched'), '0|0|0|t', 'switched to unlogged: emptied by a crash');
$node->safe_psql(
	'postgres', q{
	SELECT mq_send('switched', '{"n": 3}');
	SELECT mq_alter_queue('switched', unlogged => false);
	SELECT mq_send('switched', '{"n": 4}');
});
QueueTest::restart($node, 'immediate');
is(figures('switched'), '2|2|0|f', 'switched back to logged: kept through a crash');
is($node->safe_psql('postgres',
	"SELECT string_agg(body->>'n', ',' ORDER BY id) FROM mq_peek('switched')"),
	'3,4', 'switched back to logged: both messages there');

# After the crashes, a clean shutdown still keeps u's messages.
$node->safe_psql('postgres',
	"SELECT mq_send('u', jsonb_build_object('n', i)) FROM generate_series(1, 2) i");
QueueTest::restart($node, 'fast');
is(bodies('u'), '1:0,2:0', 'u keeps messages sent after the crashes across a clean restart');

$node->stop;
done_testing();
