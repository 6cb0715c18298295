# A long poll holds back neither vacuum nor the xmin horizon while it
# sleeps (SPEC section 3b): a backend waiting in
#   SELECT * FROM mq_read(..., wait => ...)
#   SELECT * FROM mq_consume(..., wait => ...)
# issued as a statement of its own (also inside a transaction block) shows
# backend_xmin NULL, and a VACUUM meanwhile removes every row deleted
# before it started.  Statement shapes that read on after the wait (an
# aggregate over the call, a join, an open cursor beside it) keep their
# snapshot, and the same VACUUM leaves the rows: the check can fail.  The
# sleeping reader is still woken by the commit of a send (no lost wakeup).
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('long_poll_horizon');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
	SELECT mq_create_queue('hz');
	SELECT mq_create_stream('hz_log', partitions => 1);
	SELECT mq_create_group('hz_log', 'g');
	CREATE TABLE churn (n int);
});

# Delete 1000 committed rows, then VACUUM: (removed, dead but not yet
# removable), from VACUUM VERBOSE.
sub churn_and_vacuum
{
	sql('INSERT INTO churn SELECT generate_series(1, 1000)');
	sql('DELETE FROM churn');
	my ($ret, $out, $err) = $node->psql('postgres', 'VACUUM (VERBOSE) churn');
	my ($removed) = $err =~ /tuples: (\d+) removed/;
	my ($kept) = $err =~ /(\d+) are dead but not yet removable/;
	diag($err) unless defined $removed && defined $kept;
	sql('TRUNCATE churn');
	return ($removed // -1, $kept // -1);
}

my $s = QueueTest::session($node);
my $pid = QueueTest::session_pid($s);

sub xmin_of { return sql("SELECT backend_xmin IS NULL FROM pg_stat_activity WHERE pid = $pid"); }

# Start a waiting statement in the session, wait until it sleeps, and
# check its xmin and what VACUUM can remove meanwhile.
sub check_wait
{
	my ($what, $stmt, $released) = @_;
	QueueTest::session_start($s, $stmt);
	ok(defined QueueTest::wait_until_sleeping($node, $pid), "$what: sleeps in its long poll");
	is(xmin_of(), $released ? 't' : 'f',
		"$what: backend_xmin is " . ($released ? 'NULL' : 'held') . ' while it sleeps');
	my ($removed, $kept) = churn_and_vacuum();
	if ($released)
	{
		is("$removed/$kept", '1000/0', "$what: VACUUM removes the dead rows meanwhile");
	}
	else
	{
		is("$removed/$kept", '0/1000', "$what: VACUUM must keep the dead rows meanwhile");
	}
	return;
}

# mq_read alone: released; a send wakes it, and it returns the message.
check_wait('mq_read alone', q{SELECT body FROM mq_read('hz', 1, wait => '60 seconds')}, 1);
sql(q{SELECT mq_send('hz', '{"n": 1}')});
my ($out, $err, $state) = QueueTest::session_result($s, 30);
is($out, '{"n": 1}', 'mq_read alone: woken by the send, returns its message');
sql(q{SELECT mq_purge('hz')});

# Inside a transaction block, as the exactly-once pattern reads.
$s->query_safe('BEGIN');
check_wait('mq_read in a transaction block', q{SELECT * FROM mq_read('hz', 1, wait => '60 seconds')}, 1);
sql(q{SELECT mq_send('hz', '{"n": 2}')});
($out, $err, $state) = QueueTest::session_result($s, 30);
like($out, qr/"n": 2/, 'mq_read in a transaction block: woken, returns the message');
$s->query_safe('COMMIT');
sql(q{SELECT mq_purge('hz')});

# A filter and a projection of immutable expressions are still alone.
check_wait('mq_read with a filter',
	q{SELECT id, body->>'n' FROM mq_read('hz', 5, wait => '2 seconds') WHERE priority >= 0}, 1);
QueueTest::session_result($s, 30);

# Shapes that keep the snapshot: an aggregate over the call, a join, an
# open cursor of the same transaction.
check_wait('mq_read under an aggregate',
	q{SELECT count(*) FROM mq_read('hz', 1, wait => '2 seconds')}, 0);
QueueTest::session_result($s, 30);
check_wait('mq_read in a join',
	q{SELECT * FROM mq_read('hz', 1, wait => '2 seconds') r LEFT JOIN churn c ON c.n = r.id}, 0);
QueueTest::session_result($s, 30);
$s->query_safe('BEGIN');
$s->query_safe('DECLARE c CURSOR FOR SELECT * FROM pg_class');
check_wait('mq_read beside an open cursor',
	q{SELECT * FROM mq_read('hz', 1, wait => '2 seconds')}, 0);
QueueTest::session_result($s, 30);
$s->query_safe('COMMIT');

# mq_consume alone: released, and woken by an append.
check_wait('mq_consume alone',
	q{SELECT body FROM mq_consume('hz_log', 'g', 1, wait => '60 seconds')}, 1);
sql(q{SELECT * FROM mq_append('hz_log', '{"r": 1}')});
($out, $err, $state) = QueueTest::session_result($s, 30);
is($out, '{"r": 1}', 'mq_consume alone: woken by the append, returns the record');

check_wait('mq_consume under an aggregate',
	q{SELECT count(*) FROM mq_consume('hz_log', 'g', 1, wait => '2 seconds')}, 0);
QueueTest::session_result($s, 30);

QueueTest::session_close($s);
$node->stop;
done_testing();
