# Leased messages that are not acked come back when their lease ends (vt
# 1 second), without any restart, with their delivery counted; the receipt
# of the ended lease is stale once the message has been read again.  The
# lease ends on the wall clock, also while the reading transaction is still
# open, and that transaction's abort does not touch the new leases.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = QueueTest::new_node('lease_expiry');

sub figures
{
	my ($queue) = @_;
	return $node->safe_psql('postgres',
		"SELECT depth, ready, inflight FROM mq_queues WHERE queue = '$queue'");
}

sub rows
{
	my ($sql) = @_;
	return [ map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', $sql) ];
}

# Part 1: read in autocommit.
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('q');
	  SELECT mq_send('q', jsonb_build_object('n', i)) FROM generate_series(1, 3) i});
my @ids = split /\n/,
  $node->safe_psql('postgres', "SELECT id FROM mq_peek('q') ORDER BY id");

my $t0 = time;
my $leased = rows("SELECT id, receipt, deliveries FROM mq_read('q', 2, '1 second')");
is(join(',', map { "$_->[0]:$_->[2]" } @$leased),
	"$ids[0]:1,$ids[1]:1", 'two messages leased for one second');
my @old = map { $_->[1] } @$leased;

is($node->safe_psql('postgres', "SELECT string_agg(id::text, ',') FROM mq_peek('q')"),
	$ids[2], 'while leased, only the third message is ready');
is(figures('q'), '3|1|2', 'two in flight');

ok( $node->poll_query_until(
		'postgres', "SELECT count(*) FROM mq_peek('q')", '3'),
	'the leased messages become ready again');
my $elapsed = time - $t0;
cmp_ok($elapsed, '>=', 0.95, 'not before the lease ends');
cmp_ok($elapsed, '<', 30, 'soon after the lease ends');
is(figures('q'), '3|3|0', 'nothing in flight once the leases ended');

my $again = rows(
	"SELECT id, receipt, deliveries FROM mq_read('q', 10, '1 hour') ORDER BY id");
is( join(',', map { "$_->[0]:$_->[2]" } @$again),
	"$ids[0]:2,$ids[1]:2,$ids[2]:1",
	'read again: the expired delivery counts');

my ($state) = QueueTest::sql_error($node, "SELECT mq_ack('q', $old[0])");
is($state, '55000', 'strict ack of the stale receipt raises 55000');
($state) = QueueTest::sql_error($node, "SELECT mq_ack('q', ARRAY[$old[0], $old[1]])");
is($state, '55000', 'strict batch ack of stale receipts raises 55000');
($state) = QueueTest::sql_error($node, "SELECT mq_nack('q', $old[1])");
is($state, '55000', 'strict nack of the stale receipt raises 55000');
($state) = QueueTest::sql_error($node, "SELECT mq_extend('q', $old[1], '1 hour')");
is($state, '55000', 'strict extend of the stale receipt raises 55000');
is( $node->safe_psql(
		'postgres',
		"SELECT mq_ack('q', $old[0], strict => false),
		        mq_ack('q', ARRAY[$old[0], $old[1]], false),
		        mq_nack('q', $old[1], strict => false),
		        mq_extend('q', $old[1], '1 hour', strict => false)"),
	'f|0|f|f',
	'non-strict ack, nack and extend of stale receipts do nothing');
is(figures('q'), '3|0|3', 'the messages are still there, leased by the new reads');

my $new = join ',', map { $_->[1] } @$again;
is($node->safe_psql('postgres', "SELECT mq_ack('q', ARRAY[$new]::bigint[])"),
	'3', 'the new receipts ack');
is(figures('q'), '0|0|0', 'queue empty');

# Part 2: the reader keeps its transaction open past the end of its lease.
$node->safe_psql('postgres', q{SELECT mq_send('q', '{"long": true}')});
my $reader = QueueTest::session($node);
QueueTest::session_query($reader, 'BEGIN');
my ($out) = QueueTest::session_query($reader,
	"SELECT receipt, deliveries FROM mq_read('q', 1, '1 second')");
my ($receipt, $deliveries) = split /\|/, $out;
is($deliveries, '1', 'read inside an open transaction');

ok( $node->poll_query_until('postgres', "SELECT count(*) FROM mq_peek('q')", '1'),
	'the lease ends while the reading transaction is still open');
is( $node->safe_psql('postgres', "SELECT deliveries FROM mq_read('q', 1, '1 hour')"),
	'2', 'another session reads it again');

my ($err);
($out, $err, $state) =
  QueueTest::session_query($reader, "SELECT mq_ack('q', $receipt)");
is($state, '55000', 'the first reader\'s receipt is stale in its open transaction');
QueueTest::session_query($reader, 'ROLLBACK');
is(figures('q'), '1|0|1', 'the first reader\'s abort leaves the new lease alone');
QueueTest::session_close($reader);

$node->stop;
done_testing();
