# Many waiters on one queue: every commit wakes them all and none misses
# one.  Four sessions wait on one queue; another commits four messages, in
# one transaction or in four.  In every round each waiter gets one message,
# all four messages are delivered, and every waiter returns soon after the
# commit that made its message ready -- long before the end of its wait,
# which is where a lost wakeup would leave it.  Half of the rounds commit
# while the waiters are still registering, the others once they all sleep.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('long_poll_waiters');
my $waiters = 4;
my $rounds = 200;
my $wait = 10;        # seconds each waiter may wait
my $latency = 2;      # seconds after the last commit by which all are back

$node->safe_psql('postgres', "SELECT mq_create_queue('many')");
my @readers = map { QueueTest::session($node) } 1 .. $waiters;
my @pids = map { QueueTest::session_pid($_) } @readers;
my $writer = QueueTest::session($node);

my $read = "SELECT extract(epoch FROM clock_timestamp()),
                   coalesce(string_agg(id || ':' || receipt, ','), '')
              FROM mq_read('many', 1, '1 hour', wait => '$wait seconds')";

my %failures;
my $slowest = 0;
for my $round (1 .. $rounds)
{
	my $sleeping = $round % 2 == 0;
	my $batch = $round % 4 < 2;

	QueueTest::session_start($_, $read) for @readers;
	if ($sleeping)
	{
		defined QueueTest::wait_until_sleeping($node, @pids)
		  or die "round $round: the waiters do not sleep";
	}

	my @sent;
	my $committed;
	if ($batch)
	{
		my ($out) = QueueTest::session_query($writer,
			"SELECT extract(epoch FROM clock_timestamp()), string_agg(id::text, ',')
			   FROM mq_send_batch('many',
			          ARRAY(SELECT jsonb_build_object('round', $round, 'n', i)
			                  FROM generate_series(1, $waiters) i)) id");
		my $ids;
		($committed, $ids) = split /\|/, $out;
		@sent = split /,/, $ids;
	}
	else
	{
		for my $n (1 .. $waiters)
		{
			my ($out) = QueueTest::session_query($writer,
				"SELECT extract(epoch FROM clock_timestamp()),
				        mq_send('many', jsonb_build_object('round', $round, 'n', $n))");
			my $id;
			($committed, $id) = split /\|/, $out;
			push @sent, $id;
		}
	}

	my (@got, @receipts, @late);
	for my $i (0 .. $#readers)
	{
		my ($out, $err, $state) = QueueTest::session_result($readers[$i], 60);
		die "round $round: reader $i failed: $err" if $state ne '';
		my ($returned, $rows) = split /\|/, $out, 2;
		my $after = $returned - $committed;
		$slowest = $after if $after > $slowest;
		push @late, sprintf('reader %d %.3fs', $i, $after) if $after > $latency;
		for (grep { $_ ne '' } split /,/, $rows)
		{
			my ($id, $receipt) = split /:/;
			push @got, $id;
			push @receipts, $receipt;
		}
	}
	my ($acked) = QueueTest::session_query($writer,
		"SELECT mq_ack('many', ARRAY[" . join(',', @receipts, 0) . "]::bigint[], false)");
	my $delivered = join(',', sort { $a <=> $b } @got);
	my $expected = join(',', sort { $a <=> $b } @sent);
	push @{ $failures{delivery} }, "round $round: got $delivered, sent $expected"
	  if $delivered ne $expected || @got != $waiters;
	push @{ $failures{late} }, "round $round: " . join(', ', @late) if @late;
	push @{ $failures{ack} }, "round $round: $acked acked" if $acked != $waiters;
}
for (['delivery', 'every round: each waiter got one message, all delivered once'],
	['late', "every round: every waiter back within ${latency}s of the commit"],
	['ack', 'every round: every receipt acked'])
{
	my ($kind, $what) = @$_;
	ok(!$failures{$kind}, $what)
	  or diag(join "\n", @{ $failures{$kind} });
}
note(sprintf('slowest return after a commit: %.3f s', $slowest));
is($node->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = 'many'"),
	'0', 'queue empty at the end');

QueueTest::session_close($_) for @readers, $writer;
$node->stop;
done_testing();
