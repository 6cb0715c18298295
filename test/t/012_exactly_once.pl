# Exactly-once effects in the same database, end to end (SPEC sections 3
# and 9): the transactional outbox on the producer side, work and a strict
# ack in one transaction on the consumer side, under concurrency, lost
# leases, terminated backends and crashes.
#
# Producers write a ledger row into "orders" and send the order with
# mq_send(..., idempotency_key => the order id) in one transaction, and
# record every id mq_send returned in "sends":
#
#   p1  its own orders; every 6th transaction rolls back (never committed)
#   p2  its own orders; every 4th transaction rolls back
#   d1  the same orders as p2, racing it: a concurrent duplicate waits for
#       the first sender and returns its id, or sends if the first aborts
#   p3  its own orders, and after each one sends the order of five steps
#       back again (a retry after an uncertain outcome, mostly of an order
#       that was consumed already)
#   b1  batches of five orders with mq_send_batch and idempotency_keys
#
# A producer whose connection dies starts again a few orders back, so it
# sends again what may or may not have committed.
#
# Consumers read, insert a row per message into "processed" (no unique key:
# a duplicate must show, not fail) and ack strictly, in one transaction:
#
#   c1  5 at a time, one array ack
#   c2  1 at a time with a long poll
#   c3, c4  2 at a time with a 300 ms lease and up to half a second of
#       work: leases end mid-work, others take the messages, and the late
#       ack raises 55000, rolling the work back
#   c5  3 at a time; every 5th transaction rolls back after the ack
#
# Meanwhile backends are terminated at random (pg_terminate_backend), the
# server is stopped with an immediate shutdown, and later a consumer's
# backend is killed so that the postmaster reinitialises.  Clients are
# started again whenever they die.  Then producers stop, the consumers drain
# the queue and stop, and:
#
#   every committed ledger row was processed exactly once, nothing else was
#   processed, each order was processed as the message its sends returned
#   (one message id per order), and the queue is empty.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $segment = 9;          # seconds of load before each crash, and after the last
my $per_script = 1000;    # iterations in each generated script
my $seed = $ENV{QUEUE_TEST_SEED} // time;    # which backends get terminated
srand($seed);
note "random seed $seed";

my $node = QueueTest::new_node('exactly_once', restart_after_crash => 1,
	conf => [ 'log_statement = none', 'max_connections = 40' ]);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('order_events');
	CREATE TABLE orders (order_id bigint PRIMARY KEY, producer text NOT NULL);
	CREATE TABLE sends (order_id bigint NOT NULL, msg_id bigint NOT NULL,
	                    producer text NOT NULL);
	CREATE TABLE processed (order_id bigint NOT NULL, msg_id bigint NOT NULL,
	                        receipt bigint NOT NULL, deliveries int NOT NULL,
	                        consumer text NOT NULL, tag text NOT NULL);
	CREATE INDEX ON processed (tag);
});

# Order ids: producer base + step.
my %base = (p1 => 1_000_000, p2 => 2_000_000, d1 => 2_000_000,
	p3 => 3_000_000, b1 => 5_000_000);

sub send_order
{
	my ($name, $order, $end) = @_;
	return "BEGIN;\n"
	  . "INSERT INTO orders VALUES ($order, '$name') ON CONFLICT DO NOTHING;\n"
	  . "INSERT INTO sends SELECT $order, mq_send('order_events', "
	  . "'{\"order_id\": $order}', idempotency_key => '$order'), '$name';\n"
	  . "$end;\n";
}

# The script of a producer from step $from on; it echoes "c <step>" or
# "r <step>" once a step's transaction has committed or rolled back.  Each
# iteration quits when told, else runs one transaction.
sub producer_script
{
	my ($name, $from) = @_;
	my $s = '';
	for my $i ($from .. $from + $per_script - 1)
	{
		$s .= QueueTest::pool_stop_check('producer');
		if ($name eq 'b1')
		{
			my @o = map { $base{b1} + 5 * $i + $_ } 0 .. 4;
			my $orders = 'ARRAY[' . join(',', @o) . ']::bigint[]';
			$s .= "BEGIN;\n"
			  . "INSERT INTO orders SELECT o, 'b1' FROM unnest($orders) o ON CONFLICT DO NOTHING;\n"
			  . "INSERT INTO sends SELECT ($orders)[n], id, 'b1' FROM mq_send_batch("
			  . "'order_events', ARRAY(SELECT jsonb_build_object('order_id', o) FROM unnest($orders) o), "
			  . "idempotency_keys => $orders\::text[]) WITH ORDINALITY AS s(id, n);\n"
			  . "COMMIT;\n\\echo c $i\n";
			next;
		}
		my $rollback = ($name eq 'p1' && $i % 6 == 0) || ($name eq 'p2' && $i % 4 == 0);
		$s .= send_order($name, $base{$name} + $i, $rollback ? 'ROLLBACK' : 'COMMIT');
		$s .= $rollback ? "\\echo r $i\n" : "\\echo c $i\n";
		$s .= send_order($name, $base{$name} + $i - 5, 'COMMIT')
		  if $name eq 'p3' && $i > 5;
	}
	return $s . "\\echo done\n";
}

my %consumer = (
	c1 => { read => "5, '30 s'", batch_ack => 1 },
	c2 => { read => "1, wait => '200 ms'" },
	c3 => { read => "2, '300 ms'", work => 0.5 },
	c4 => { read => "2, '300 ms'", work => 0.5 },
	c5 => { read => "3, '30 s'", rollback_every => 5 });

sub consumer_script
{
	my ($name, $gen) = @_;
	my $c = $consumer{$name};
	my $s = "\\o /dev/null\n";
	for my $i (1 .. $per_script)
	{
		my $tag = "$name.$gen.$i";
		my $end =
		  ($c->{rollback_every} && $i % $c->{rollback_every} == 0) ? 'ROLLBACK' : 'COMMIT';
		$s .= QueueTest::pool_stop_check('consumer')
		  . "BEGIN;\n"
		  . "INSERT INTO processed SELECT (body->>'order_id')::bigint, id, receipt, "
		  . "deliveries, '$name', '$tag' FROM mq_read('order_events', $c->{read});\n";
		$s .= "SELECT pg_sleep(random() * $c->{work});\n" if $c->{work};
		$s .=
		  $c->{batch_ack}
		  ? "SELECT mq_ack('order_events', coalesce(array_agg(receipt), '{}')) "
		  . "FROM processed WHERE tag = '$tag';\n"
		  : "SELECT mq_ack('order_events', receipt) FROM processed WHERE tag = '$tag';\n";
		$s .= "$end;\n";
	}
	return $s;
}

# A producer whose run ended starts again two steps before the last one it
# saw end (the step after that one may or may not have committed).
my %from = map { $_ => 1 } keys %base;

sub producer_ended
{
	my ($name, $out) = @_;
	my @steps = $out =~ /^[cr] (\d+)$/mg;
	$from{$name} = $steps[-1] - 2 if @steps && $steps[-1] - 2 > $from{$name};
	$from{$name} = 1 if $from{$name} < 1;
	return;
}

my $pool = QueueTest::pool_new(
	$node, PostgreSQL::Test::Utils::tempdir,
	producers => [ keys %base ],
	consumers => [ keys %consumer ],
	producer_script => sub { return producer_script($_[0], $from{ $_[0] }); },
	consumer_script => \&consumer_script,
	producer_ended => \&producer_ended);

# Terminate a random client backend that is in a transaction or running a
# statement; consumers three times as often as producers.
my %terminated;

sub terminate_one
{
	my $pattern = rand() < 0.75 ? '^c' : '^[pdb]';
	my $victim = $node->safe_psql(
		'postgres', qq{
		SELECT application_name || ' ' || pg_terminate_backend(pid)
		  FROM pg_stat_activity
		 WHERE application_name ~ '$pattern' AND backend_type = 'client backend'
		   AND state IN ('active', 'idle in transaction')
		 ORDER BY random() LIMIT 1});
	$terminated{ substr($victim, 0, 1) }++ if $victim =~ / true$/;
	return;
}

sub count
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# Load for a segment, terminating a backend every 300 ms or so.
sub load
{
	my ($seconds) = @_;
	my $end = time + $seconds;
	while (time < $end)
	{
		QueueTest::pool_supervise($pool);
		terminate_one() if rand() < 0.5;
		usleep(150_000);
	}
	return;
}

my $t0 = time;
load($segment);
my $before_crash = count('SELECT count(*) FROM orders');
note "immediate shutdown with $before_crash orders";
$node->stop('immediate');
$node->start;

load($segment);
# A consumer's backend is killed; it may end by itself meanwhile, then
# another one is chosen.
my $crashed = 0;
my $before_second = 0;
for my $try (1 .. 20)
{
	my $pid = count(q{
		SELECT pid FROM pg_stat_activity
		 WHERE application_name ~ '^c' AND state IN ('active', 'idle in transaction')
		 ORDER BY random() LIMIT 1});
	if ($pid eq '' || !kill(0, $pid))
	{
		usleep(50_000);
		next;
	}
	$before_second = count('SELECT count(*) FROM orders');
	note "crash of a consumer backend with $before_second orders";
	next unless QueueTest::crash_backend($node, $pid, 1);
	$crashed = 1;
	last;
}
ok($crashed, 'a consumer backend was killed mid-load');

load($segment);

# Producers stop between transactions.
is(join(',', QueueTest::pool_stop($pool, 'producer')), '', 'producers stopped');

# Consumers drain the queue, then stop.
my $drained;
for (1 .. 1200)
{
	QueueTest::pool_supervise($pool);
	$drained = count(q{SELECT depth FROM mq_queues WHERE queue = 'order_events'}) eq '0';
	last if $drained;
	usleep(100_000);
}
ok($drained, 'the consumers drained the queue');
is(join(',', QueueTest::pool_stop($pool, 'consumer')), '', 'consumers stopped');
note sprintf('load and drain took %.1f s', time - $t0);

# What happened.
my $orders = count('SELECT count(*) FROM orders');
my $attempts = count('SELECT count(*) FROM sends');
my $redelivered = count('SELECT count(*) FROM processed WHERE deliveries > 1');
my $lost_leases = QueueTest::pool_error_count($pool, 'consumer', '55000');
note "$orders orders committed, $attempts sends committed, "
  . "$redelivered processed on a later delivery, $lost_leases acks of lost leases, "
  . ($terminated{c} // 0) . ' consumer and '
  . (($terminated{p} // 0) + ($terminated{d} // 0) + ($terminated{b} // 0))
  . " producer backends terminated, $pool->{restarts} clients started again";
note 'consumer errors: ' . QueueTest::pool_errors($pool, 'consumer');

# The load was what it claims to be.
cmp_ok($before_crash, '>', 500, 'orders were committed before the immediate shutdown');
cmp_ok($before_second, '>', $before_crash, 'orders were committed after the restart');
cmp_ok($orders, '>', $before_second, 'orders were committed after the crash');
# d1 races p2 over the same orders: whichever inserts an order first owns
# its row, so either may own none; what counts is that both sent them.
ok( count(q{SELECT count(DISTINCT producer) = 3 FROM orders WHERE producer IN ('p1', 'p3', 'b1')}) eq 't'
	  && count(q{SELECT count(*) > 0 FROM orders WHERE order_id BETWEEN 2000000 AND 2999999}) eq 't'
	  && count(q{SELECT count(DISTINCT producer) = 2 FROM sends
	              WHERE order_id BETWEEN 2000000 AND 2999999 AND producer IN ('p2', 'd1')}) eq 't',
	'every producer committed orders; p2 and d1 both sent the same orders');
cmp_ok(count('SELECT count(*) FROM (SELECT order_id FROM sends GROUP BY 1 HAVING count(*) > 1) d'),
	'>', 100, 'orders were sent more than once');
cmp_ok($lost_leases, '>', 0, 'acks of lost leases raised 55000');
cmp_ok($redelivered, '>', 0, 'messages were processed on a later delivery');
cmp_ok($terminated{c} // 0, '>', 0, 'consumer backends were terminated');
is(QueueTest::pool_errors($pool, 'consumer', '55000', '25P02'),
	'', 'consumers saw no SQL errors but lost leases and their aftermath');
is(QueueTest::pool_errors($pool, 'producer'), '', 'producers saw no SQL errors');

# Exactly once.
is( count(q{
	SELECT count(*) FROM orders o
	 WHERE NOT EXISTS (SELECT FROM processed p WHERE p.order_id = o.order_id)}),
	'0', 'every committed order was processed');
is( count(q{
	SELECT string_agg(order_id || ' x ' || n, ', ')
	  FROM (SELECT order_id, count(*) n FROM processed GROUP BY 1 HAVING count(*) > 1
	         ORDER BY 1 LIMIT 20) d}),
	'', 'no order was processed twice');
is( count(q{
	SELECT count(*) FROM processed p
	 WHERE NOT EXISTS (SELECT FROM orders o WHERE o.order_id = p.order_id)}),
	'0', 'nothing but committed orders was processed');
is( count(q{
	SELECT count(*) FROM orders o
	 WHERE NOT EXISTS (SELECT FROM sends s WHERE s.order_id = o.order_id)}),
	'0', 'every committed order has its send');
is( count(q{
	SELECT count(*) FROM (SELECT order_id FROM sends GROUP BY 1
	                       HAVING count(DISTINCT msg_id) > 1) d}),
	'0', 'every send of an order returned one message id');
is( count(q{
	SELECT count(*) FROM processed p
	 WHERE EXISTS (SELECT FROM sends s WHERE s.order_id = p.order_id AND s.msg_id <> p.msg_id)}),
	'0', 'each order was processed as the message its sends returned');
is( count(q{SELECT count(*) - count(DISTINCT msg_id) FROM processed}),
	'0', 'no message was processed twice');

# The queue is empty.
my $table = QueueTest::storage_table($node, 'order_events');
is( count(q{SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'order_events'}),
	'0|0|0|0', 'queue figures are zero');
is(count("SELECT count(*) FROM $table"), '0', 'no message stored');
is(count(q{SELECT count(*) FROM mq_read('order_events', 10000)}), '0', 'nothing to read');

$node->stop;
done_testing();
