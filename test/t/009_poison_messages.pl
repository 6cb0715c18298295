# Poison messages reach the dead-letter queue (SPEC section 3).
#
# A message whose every delivery ends badly is delivered max_deliveries
# times, then moved to the dead-letter queue (or dropped when the queue has
# none) and never delivered from its queue again.  Every way a delivery can
# end badly counts:
#
#   errors     read, then an error in the same transaction, then ROLLBACK
#   statement  an error in the very statement that reads
#   mixed      a plain ROLLBACK, an error rolled back to a savepoint, a
#              terminated backend
#   nack       the nack of the last delivery moves the message at once
#   drop       no dead-letter queue: the message is dropped
#   restarts   an immediate shutdown right after each read returns, in an
#              open transaction or after an autocommit read
#
# The dead letter keeps body, headers and priority and gains the header
# "mq_dead_letter": {"queue", "reason": "max_deliveries", "deliveries", "at"}.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

# A long WAL writer delay: a delivery count that mq_read did not flush
# itself is seldom flushed by the WAL writer before the immediate shutdowns.
my $node = QueueTest::new_node('poison',
	conf => [ "wal_writer_delay = '10s'", 'synchronous_commit = off' ]);
$node->safe_psql('postgres', q{SELECT mq_create_queue('dead')});

my $max = 3;

sub create_queue
{
	my ($q, $dlq) = @_;
	$dlq = defined $dlq ? "'$dlq'" : 'NULL';
	$node->safe_psql('postgres',
		"SELECT mq_create_queue('$q', max_deliveries => $max, dead_letter_queue => $dlq)");
	return $node->safe_psql('postgres',
		qq{SELECT mq_send('$q', '{"poison": true}', '{"trace": "t-$q"}', priority => 7)});
}

sub figures
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"SELECT depth, ready, inflight FROM mq_queues WHERE queue = '$queue'");
}

# Read the queue a few times: nothing is delivered any more, and no row of
# the poison message is left in its storage.
sub never_again
{
	my ($q, $id) = @_;
	my $table = QueueTest::storage_table($node, $q);
	my @got;
	for (1 .. 3)
	{
		push @got,
		  $node->safe_psql('postgres',
			"SELECT count(*) FROM mq_read('$q', 10, '1 hour') WHERE id = $id");
	}
	is(join(',', @got), '0,0,0', "$q: not delivered again from its queue");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $table WHERE id = $id"),
		'0', "$q: no longer stored in its queue");
	return;
}

# The dead letter of queue $q: waits until it is there (a read or the
# background worker moves it), checks it, and acks it.
sub check_dead_letter
{
	my ($q, $since) = @_;
	my $cond = "headers->'mq_dead_letter'->>'queue' = '$q'";
	ok( $node->poll_query_until(
			'postgres', "SELECT count(*) FROM mq_peek('dead', 100) WHERE $cond", '1'),
		"$q: one dead letter in the dead-letter queue");
	is( $node->safe_psql(
			'postgres', qq{
			SELECT body, headers - 'mq_dead_letter', priority,
			       headers->'mq_dead_letter'->>'reason',
			       headers->'mq_dead_letter'->'deliveries',
			       (headers->'mq_dead_letter'->>'at')::timestamptz
			           BETWEEN '$since' AND clock_timestamp(),
			       mq_ack('dead', receipt)
			  FROM mq_read('dead', 100) WHERE $cond}),
		qq({"poison": true}|{"trace": "t-$q"}|7|max_deliveries|$max|t|t),
		"$q: body, headers and priority kept; reason, deliveries and time recorded"
	);
	return;
}

sub now
{
	return $node->safe_psql('postgres', 'SELECT clock_timestamp()');
}

# errors: every transaction that reads the message fails after the read.
{
	my $id = create_queue('errors', 'dead');
	my $since = now();
	my $s = QueueTest::session($node);
	my @seen;
	for my $delivery (1 .. $max)
	{
		QueueTest::session_query($s, 'BEGIN');
		my ($out) = QueueTest::session_query($s,
			"SELECT id, deliveries FROM mq_read('errors', 1, '1 hour')");
		push @seen, $out;
		my ($o, $e, $state) = QueueTest::session_query($s, 'SELECT 1 / 0');
		is($state, '22012', "errors: delivery $delivery fails");
		QueueTest::session_query($s, 'ROLLBACK');
	}
	# The consumer goes on failing after every read: a read that would move
	# the message out rolls back with it, yet the message is not delivered
	# again and still ends as a dead letter.
	my @after;
	for (1 .. 3)
	{
		QueueTest::session_query($s, 'BEGIN');
		my ($out) = QueueTest::session_query($s,
			"SELECT count(*) FROM mq_read('errors', 10, '1 hour') WHERE id = $id");
		push @after, $out;
		QueueTest::session_query($s, 'SELECT 1 / 0');
		QueueTest::session_query($s, 'ROLLBACK');
	}
	QueueTest::session_close($s);
	# Sent only now, so that the failing reads above did not deliver it.
	$node->safe_psql('postgres', q{SELECT mq_send('errors', '{"good": true}')});
	is(join(',', @seen), join(',', map { "$id|$_" } 1 .. $max),
		'errors: delivered max_deliveries times, each delivery counted');
	is(join(',', @after), '0,0,0',
		'errors: not delivered again to the failing consumer');
	check_dead_letter('errors', $since);
	is( $node->safe_psql(
			'postgres',
			"SELECT body, mq_ack('errors', receipt) FROM mq_read('errors', 1, '1 hour')"),
		'{"good": true}|t',
		'errors: a read gets the message behind it');
	never_again('errors', $id);
	is(figures('errors'), '0|0|0', 'errors: queue empty');
}

# statement: the statement that reads fails itself.
{
	my $id = create_queue('statement', 'dead');
	my $since = now();
	for my $delivery (1 .. $max)
	{
		my ($state) = QueueTest::sql_error($node,
			"SELECT id, 1 / (deliveries - deliveries)
			   FROM mq_read('statement', 1, '1 hour')");
		is($state, '22012', "statement: delivery $delivery fails");
	}
	never_again('statement', $id);
	check_dead_letter('statement', $since);
}

# mixed: rollback, error in a savepoint, terminated backend.
{
	my $id = create_queue('mixed', 'dead');
	my $since = now();
	my @seen;

	my $s = QueueTest::session($node);
	QueueTest::session_query($s, 'BEGIN');
	push @seen,
	  (QueueTest::session_query($s,
		"SELECT deliveries FROM mq_read('mixed', 1, '1 hour')"))[0];
	QueueTest::session_query($s, 'ROLLBACK');

	QueueTest::session_query($s, 'BEGIN');
	QueueTest::session_query($s, 'SAVEPOINT work');
	push @seen,
	  (QueueTest::session_query($s,
		"SELECT deliveries FROM mq_read('mixed', 1, '1 hour')"))[0];
	QueueTest::session_query($s, 'SELECT 1 / 0');
	QueueTest::session_query($s, 'ROLLBACK TO SAVEPOINT work');
	QueueTest::session_query($s, 'COMMIT');

	my $pid = QueueTest::session_pid($s);
	QueueTest::session_query($s, 'BEGIN');
	push @seen,
	  (QueueTest::session_query($s,
		"SELECT deliveries FROM mq_read('mixed', 1, '1 hour')"))[0];
	is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 30000)"),
		't', 'mixed: reading backend terminated');
	QueueTest::session_close($s);

	is(join(',', @seen), join(',', 1 .. $max),
		'mixed: rollback, savepoint and terminated backend each count');
	never_again('mixed', $id);
	check_dead_letter('mixed', $since);
}

# nack: the nack of the last delivery moves the message in its transaction.
{
	my $id = create_queue('nack', 'dead');
	my $since = now();
	for my $delivery (1 .. $max - 1)
	{
		is( $node->safe_psql(
				'postgres', "SELECT deliveries, mq_nack('nack', receipt)
				               FROM mq_read('nack', 1, '1 hour')"),
			"$delivery|t",
			"nack: delivery $delivery nacked");
	}
	my $s = QueueTest::session($node);
	QueueTest::session_query($s, 'BEGIN');
	my ($out) = QueueTest::session_query($s,
		"SELECT deliveries, mq_nack('nack', receipt) FROM mq_read('nack', 1, '1 hour')");
	is($out, "$max|t", 'nack: last delivery nacked');
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq_peek('dead') WHERE headers->'mq_dead_letter'->>'queue' = 'nack'"),
		'0', 'nack: not a dead letter before the nack commits');
	QueueTest::session_query($s, 'COMMIT');
	QueueTest::session_close($s);
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq_peek('dead') WHERE headers->'mq_dead_letter'->>'queue' = 'nack'"),
		'1', 'nack: a dead letter once the nack commits, without another read');
	never_again('nack', $id);
	check_dead_letter('nack', $since);
}

# drop: without a dead-letter queue the poison message is dropped.
{
	my $id = create_queue('drop', undef);
	my $depth = $node->safe_psql('postgres',
		"SELECT depth FROM mq_queues WHERE queue = 'dead'");
	for my $delivery (1 .. $max)
	{
		my ($state) = QueueTest::sql_error($node,
			"BEGIN; SELECT * FROM mq_read('drop', 1, '1 hour'); SELECT 1 / 0;");
		is($state, '22012', "drop: delivery $delivery fails");
	}
	never_again('drop', $id);
	is(figures('drop'), '0|0|0', 'drop: queue empty');
	is($node->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = 'dead'"),
		$depth, 'drop: nothing went to any other queue');
}

# restarts: each delivery is followed at once by an immediate shutdown.
# The first delivery of a message sent since the server started waits for
# no flush, so that one may go uncounted (once: the message then dates from
# before a restart, and every later delivery counts).
{
	my $id = create_queue('restarts', 'dead');
	my $since = now();
	my @seen;
	# The queue and the message themselves were committed asynchronously.
	$node->safe_psql('postgres', 'CHECKPOINT');
	for my $delivery (1 .. $max + 1)
	{
		my $s = QueueTest::session($node);
		# Odd deliveries in an open transaction, even ones in autocommit.
		QueueTest::session_query($s, 'BEGIN') if $delivery % 2;
		my ($out) = QueueTest::session_query($s,
			"SELECT id, deliveries FROM mq_read('restarts', 1, '1 hour')");
		push @seen, $out if defined $out && $out ne '';
		$node->stop('immediate');
		QueueTest::session_close($s);
		$node->start;
	}
	my $counted = join(',', map { "$id|$_" } 1 .. $max);
	my $seen = join(',', @seen);
	ok($seen eq $counted || $seen eq "$id|1,$counted",
		"restarts: delivered until max_deliveries counted, only a first delivery uncounted ($seen)");
	never_again('restarts', $id);
	check_dead_letter('restarts', $since);
	is(figures('restarts'), '0|0|0', 'restarts: queue empty');
}

is(figures('dead'), '0|0|0', 'every dead letter was checked');

$node->stop;
done_testing();
