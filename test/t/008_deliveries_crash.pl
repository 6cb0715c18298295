# Delivery counts across server crashes.
#
# Once the WAL that carries a delivery count has been flushed (by a later
# commit or by the WAL writer), the count survives a crash.
#
# A poison message that crashes the server on every delivery must still see
# its count grow, so that it reaches max_deliveries (SPEC section 3;
# DESIGN.md, invariants).  A read flushes the count before it returns
# unless the delivery is the message's first and the message was sent since
# the server last started; such a delivery may go uncounted if the server
# crashes before the WAL writer flushes it, but only once: the message then
# dates from before a restart.  Here the reader's backend is killed right
# after each read, before anything else happens.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

# Nothing but the WAL writer flushes the WAL while the server is idle: no
# worker, no autovacuum, and (wal_level minimal) no standby snapshots.
my $node = QueueTest::new_node('deliveries_crash', restart_after_crash => 1,
	conf => ['queue.worker_enabled = off', 'autovacuum = off',
		'wal_level = minimal', 'max_wal_senders = 0']);

# Whether the WAL up to $lsn is flushed within $seconds.
sub wal_flushed_within
{
	my ($lsn, $seconds) = @_;
	for (1 .. 10 * $seconds)
	{
		return 1
		  if $node->safe_psql('postgres',
			"SELECT pg_current_wal_flush_lsn() >= '$lsn'::pg_lsn") eq 't';
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# The WAL writer flushed the count, then the server crashed.  The read
# commits without a flush of its own (it has no transaction id): its
# commit tells the WAL writer, which flushes within its delay.
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('flushed'); SELECT mq_send('flushed', '{}')});
my ($deliveries, $lsn) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT deliveries, pg_current_wal_insert_lsn() FROM mq_read('flushed', 1, '1 hour')");
is($deliveries, '1', 'flushed: first delivery');
ok(wal_flushed_within($lsn, 30), 'flushed: the WAL writer flushed the delivery');

# The same when the read rolls back (its count stays): an abort without a
# transaction id flushes nothing by itself.
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('undone'); SELECT mq_send('undone', '{}')});
$lsn = $node->safe_psql('postgres',
	"BEGIN; SELECT count(*) FROM mq_read('undone', 1, '1 hour'); SELECT pg_current_wal_insert_lsn(); ROLLBACK;");
($lsn) = grep { m{/} } split /\n/, $lsn;
ok(wal_flushed_within($lsn, 30), 'undone: the WAL writer flushed the delivery of a read rolled back');
is($node->safe_psql('postgres', "SELECT deliveries FROM mq_read('undone', 1, '1 hour')"),
	'2', 'undone: its count stayed');
QueueTest::crash_backend($node);
is($node->safe_psql('postgres', "SELECT deliveries FROM mq_read('flushed', 1, '1 hour')"),
	'2', 'flushed: the count survived the crash');

# Read queue $q once per crash, $n times, then once more; the counts seen.
sub deliveries_with_crashes
{
	my ($q, $n) = @_;
	my @seen;
	for my $delivery (1 .. $n)
	{
		my $s = QueueTest::session($node);
		my ($pid) = QueueTest::session_query($s, 'SELECT pg_backend_pid()');
		QueueTest::session_query($s, 'BEGIN');
		my ($out) = QueueTest::session_query($s,
			"SELECT deliveries FROM mq_read('$q', 1, '1 hour')");
		push @seen, $out;
		QueueTest::crash_backend($node, $pid);
		QueueTest::session_close($s);
	}
	push @seen,
	  $node->safe_psql('postgres',
		"SELECT deliveries FROM mq_read('$q', 1, '1 hour')");
	return join(',', @seen);
}

# A poison message sent before a crash: every delivery is flushed before
# the read returns, so each one counts.
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('poison'); SELECT mq_send('poison', '{}')});
QueueTest::crash_backend($node);
is(deliveries_with_crashes('poison', 3), '1,2,3,4',
	'poison: every delivery counts although each ended in a crash');

# A poison message sent since the last start: its first delivery may go
# uncounted (the crash may come before the WAL writer), every later one
# counts.
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('fresh'); SELECT mq_send('fresh', '{}')});
my $fresh = deliveries_with_crashes('fresh', 3);
ok($fresh eq '1,2,3,4' || $fresh eq '1,1,2,3',
	"fresh: only the first delivery may go uncounted ($fresh)");

$node->stop;
done_testing();
