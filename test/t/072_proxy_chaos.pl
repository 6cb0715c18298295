# Sharded, under faults (SPEC sections 9 and 11): three shards behind a
# proxy, one queue on each.
#
# Producers p1 and p2 send orders through the proxy, each order to the
# queue of (order mod 3), with the order as its idempotency key: a call
# through the proxy is at-least-once, so a producer whose call failed (a
# backend terminated, a shard down) starts again two orders before the
# last one it saw commit, and the keys make the repeats harmless.
#
# Exactly-once consumers connect to their queue's shard, as the docs tell
# applications to: they insert a row per message into "processed" (no
# unique key: a duplicate must show) and ack strictly, in one transaction
# there.  c0 and c0b on shard 0, c1 on shard 1, c2 on shard 2.
#
# Meanwhile shard backends are terminated at random, a consumer backend of
# shard 1 is killed (its postmaster reinitialises), and shard 2 is stopped
# with an immediate shutdown and started again.  Then:
#
#   every order a producer saw commit (and the one after, sent again at the
#   end in case it committed unseen) was processed exactly once, on its
#   queue's shard, and nothing else; the queues are empty; while shard 2
#   was down, the queues of the other shards took sends and were read.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

QueueTest::skip_without_plproxy();

my $segment = 4;          # seconds of load between faults
my $per_script = 600;     # iterations in each generated script
my $seed = $ENV{QUEUE_TEST_SEED} // time;
srand($seed);
note "random seed $seed";

my ($proxy, $shards) = QueueTest::proxy_cluster(3, prefix => 'chaos', restart_after_crash => 1,
	conf => [ 'log_statement = none', 'max_connections = 40' ]);
my @shards = @$shards;
sub px { return $proxy->safe_psql('postgres', $_[0]); }

# One queue on each shard.
my @queue;
for my $n (map { "orders_$_" } 0 .. 60)
{
	my $s = px("SELECT mq_shard_of('$n')");
	$queue[$s] //= $n;
}
is(scalar(grep { defined } @queue), 3, 'a queue name for each shard');
px("SELECT mq_create_queue('$_')") for @queue;
$_->safe_psql('postgres', q{
	CREATE TABLE processed (order_id bigint NOT NULL, msg_id bigint NOT NULL,
	                        receipt bigint NOT NULL, consumer text NOT NULL, tag text NOT NULL);
	CREATE INDEX ON processed (tag);
}) for @shards;

my %base = (p1 => 1_000_000, p2 => 2_000_000);
sub order_of { return $base{ $_[0] } + $_[1]; }
sub queue_of { return $queue[ $_[0] % 3 ]; }

sub send_sql
{
	my ($order) = @_;
	my $q = queue_of($order);
	return "SELECT mq_send('$q', '{\"order_id\": $order}', idempotency_key => '$order') IS NOT NULL AS sent \\gset\n";
}

sub producer_script
{
	my ($name, $from) = @_;
	my $s = '';
	for my $i ($from .. $from + $per_script - 1)
	{
		$s .= QueueTest::pool_stop_check('producer') . send_sql(order_of($name, $i)) . "\\echo c $i\n";
	}
	return $s . "\\echo done\n";
}

my %from = map { $_ => 1 } keys %base;
my %last = map { $_ => 0 } keys %base;

sub producer_ended
{
	my ($name, $out) = @_;
	my @steps = $out =~ /^c (\d+)$/mg;
	return unless @steps;
	$last{$name} = $steps[-1] if $steps[-1] > $last{$name};
	$from{$name} = $steps[-1] - 2 if $steps[-1] - 2 > $from{$name};
	return;
}

my %consumer = (c0 => 0, c0b => 0, c1 => 1, c2 => 2);

sub consumer_script
{
	my ($name, $gen) = @_;
	my $q = $queue[ $consumer{$name} ];
	my $s = "\\o /dev/null\n";
	for my $i (1 .. $per_script)
	{
		my $tag = "$name.$gen.$i";
		$s .= QueueTest::pool_stop_check('consumer')
		  . "BEGIN;\n"
		  . "INSERT INTO processed SELECT (body->>'order_id')::bigint, id, receipt, '$name', '$tag' "
		  . "FROM mq_read('$q', 5, '30 s', wait => '100 ms');\n"
		  . "SELECT mq_ack('$q', coalesce(array_agg(receipt), '{}')) FROM processed WHERE tag = '$tag';\n"
		  . "COMMIT;\n";
	}
	return $s;
}

my $pool = QueueTest::pool_new(
	$proxy, PostgreSQL::Test::Utils::tempdir,
	producers => [ sort keys %base ],
	consumers => [ sort keys %consumer ],
	node_of => { map { $_ => $shards[ $consumer{$_} ] } keys %consumer },
	producer_script => sub { return producer_script($_[0], $from{ $_[0] }); },
	consumer_script => \&consumer_script,
	producer_ended => \&producer_ended);

# Terminate a random client backend of a random shard that is running a
# statement or in a transaction: a consumer's, or one the proxy opened.
my $terminated = 0;
my %down;

sub terminate_one
{
	my $i = int(rand(3));
	return if $down{$i};
	my $shard = $shards[$i];
	my ($ret, $victim) = $shard->psql('postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
		   AND state IN ('active', 'idle in transaction')
		 ORDER BY random() LIMIT 1});
	$terminated++ if $ret == 0 && $victim eq 't';
	return;
}

sub load
{
	my ($seconds) = @_;
	my $end = time + $seconds;
	while (time < $end)
	{
		QueueTest::pool_supervise($pool);
		terminate_one() if rand() < 0.4;
		usleep(150_000);
	}
	return;
}

my $t0 = time;
load($segment);

# A consumer backend of shard 1 is killed: its postmaster reinitialises.
# (Between its transactions c1 may be idle, or being started again after a
# termination: look for it a while.)
my $crashed = 0;
for (1 .. 200)
{
	QueueTest::pool_supervise($pool);
	my $pid = $shards[1]->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE application_name = 'c1' LIMIT 1});
	if ($pid eq '' || !kill(0, $pid))
	{
		usleep(50_000);
		next;
	}
	next unless QueueTest::crash_backend($shards[1], $pid, 1);
	$crashed = 1;
	last;
}
ok($crashed, 'a consumer backend of shard 1 was killed mid-load (shard 1 reinitialised)');
load($segment);

# Shard 2 down: the others go on.  (The producers stall at their next
# order for shard 2's queue, sending it again and again: a message for
# each of the other shards shows that those still take sends and deliver.)
$shards[2]->stop('immediate');
$down{2} = 1;
load(2);
for my $s (0, 1)
{
	my $order = -1 - $s;
	ok(px("SELECT mq_send('$queue[$s]', '{\"order_id\": $order}', idempotency_key => 'down-$s') > 0"),
		"while shard 2 is down, the queue of shard $s takes a send through the proxy");
}
for my $s (0, 1)
{
	my $order = -1 - $s;
	my $seen = 0;
	for (1 .. 100)
	{
		QueueTest::pool_supervise($pool);
		$seen = $shards[$s]->safe_psql('postgres', "SELECT count(*) FROM processed WHERE order_id = $order");
		last if $seen;
		usleep(100_000);
	}
	is($seen, '1', "and shard ${s}'s consumers process it");
}
$shards[2]->start;
delete $down{2};
load($segment);

is(join(',', QueueTest::pool_stop($pool, 'producer')), '', 'producers stopped');
# The order after the last one each producer saw commit may have committed
# unseen: send it again (its key makes that harmless either way).
for my $p (sort keys %base)
{
	px(send_sql(order_of($p, $last{$p} + 1)) =~ s/ \\gset\n//r);
}

# The consumers drain the queues, then stop.
my $drained;
for (1 .. 1200)
{
	QueueTest::pool_supervise($pool);
	$drained = px('SELECT sum(depth) FROM mq_queues') eq '0';
	last if $drained;
	usleep(100_000);
}
ok($drained, 'the consumers drained the three queues');
is(join(',', QueueTest::pool_stop($pool, 'consumer')), '', 'consumers stopped');
note sprintf('load and drain took %.1f s; %d backends terminated, %d client restarts',
	time - $t0, $terminated, $pool->{restarts});

# What was processed, per shard.
my (%times, $wrong_shard);
for my $s (0 .. 2)
{
	for my $row (split /\n/, $shards[$s]->safe_psql('postgres',
		'SELECT order_id, count(*) FROM processed GROUP BY order_id'))
	{
		my ($order, $n) = split /\|/, $row;
		$times{$order} += $n;
		$wrong_shard++ if $order > 0 ? $order % 3 != $s : -1 - $order != $s;
	}
}
my @expected = (-1, -2, map { my $p = $_; map { order_of($p, $_) } 1 .. $last{$p} + 1 } sort keys %base);
my @missing = grep { !$times{$_} } @expected;
my %want = map { $_ => 1 } @expected;
my @extra = grep { !$want{$_} } keys %times;
my @twice = grep { $times{$_} > 1 } keys %times;
cmp_ok($last{p1} + $last{p2}, '>', 50, 'producers committed orders throughout');
is(scalar(@missing), 0, 'every order a producer saw commit was processed')
  or diag('missing: ' . join(',', @missing[0 .. ($#missing < 9 ? $#missing : 9)]));
is(scalar(@twice), 0, 'none was processed twice')
  or diag('twice: ' . join(',', @twice[0 .. ($#twice < 9 ? $#twice : 9)]));
is(scalar(@extra), 0, 'nothing else was processed');
is($wrong_shard // 0, 0, 'each on its queue\'s shard');
is(QueueTest::pool_errors($pool, 'consumer', qw(55000 57P01 57P02 57P03 08006 08003 XX000)), '',
	'consumers met no errors but lost leases and lost connections');

done_testing();
