# The client examples (examples/python with psycopg 3, examples/node with
# node-postgres) together: producers place 1000 orders through the
# transactional outbox, two Python and two Node workers ship them at once,
# workers are killed with SIGKILL in the middle of a transaction and
# stopped with SIGTERM, and every order is shipped exactly once.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy ();
use POSIX ();
use Time::HiRes qw(time usleep);

my $examples = $ENV{QUEUE_EXAMPLES} // die "QUEUE_EXAMPLES is not set";
my $tmp = PostgreSQL::Test::Utils::tempdir('clients');
my $logs = $PostgreSQL::Test::Utils::log_path;

# The clients.  -I keeps Python from importing a module named queue from the
# current directory (the extension's queue.so in a checkout) instead of the
# standard library's, which psycopg uses.
my ($python) = grep { (QueueTest::run_command($_, '-I', '-c', 'import psycopg'))[0] }
  ('/usr/bin/python3', 'python3');
plan skip_all => 'Python 3 with psycopg 3 is not installed (Debian: python3-psycopg)'
  unless $python;
my ($nodejs) = grep { (QueueTest::run_command($_, '--version'))[0] } ('/usr/bin/node', 'node');
plan skip_all => 'Node.js is not installed (Debian: nodejs)' unless $nodejs;

# node-postgres: from examples/node/node_modules, or installed by npm ci
# from the lock file into a copy of the example.
my $nodedir = "$examples/node";
if (!-d "$nodedir/node_modules")
{
	plan skip_all => 'npm is not installed (Debian: npm)'
	  unless (QueueTest::run_command('npm', '--version'))[0];
	my $copy = "$tmp/node";
	mkdir $copy or die "mkdir $copy: $!";
	File::Copy::copy($_, $copy) or die "copy $_: $!"
	  for glob("$nodedir/*.js $nodedir/package.json $nodedir/package-lock.json");
	QueueTest::npm_ci($copy, "$tmp/npm-home");
	$nodedir = $copy;
}
my $pydir = "$examples/python";

my $node = QueueTest::new_node('clients');
my ($ret, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', "$examples/shop.sql" ]);
is($ret, 0, 'shop.sql sets up the tables and queues') or diag($err);
# A short visibility timeout, so that a lease lost with a worker ends soon.
$node->safe_psql('postgres',
	"SELECT mq_alter_queue('shop_orders', visibility_timeout => '2 seconds')");

# The clients connect with the libpq environment variables.
$ENV{PGHOST} = $node->host;
$ENV{PGPORT} = $node->port;
$ENV{PGDATABASE} = 'postgres';
$ENV{PGUSER} = $node->safe_psql('postgres', 'SELECT current_user');

# Start a client in the background, its stdout and stderr going to
# $logs/<name>.log; returns its pid.
my %log_of;
sub spawn
{
	my ($name, @cmd) = @_;
	my $log = $log_of{$name} = "$logs/clients_$name.log";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null' or POSIX::_exit(126);
		open STDOUT, '>', $log or POSIX::_exit(126);
		open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
		exec @cmd or POSIX::_exit(127);
	}
	return $pid;
}

# Wait for a client to exit: its exit status (or 128 + signal), or undef
# at the timeout.
sub reap
{
	my ($pid, $timeout) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		if (waitpid($pid, POSIX::WNOHANG()) == $pid)
		{
			return POSIX::WIFSIGNALED($?) ? 128 + POSIX::WTERMSIG($?) : $? >> 8;
		}
		usleep(20_000);
	}
	return undef;
}

sub slurp_log { return PostgreSQL::Test::Utils::slurp_file($log_of{ $_[0] }) }

# Every worker ships with 5 ms of work per order, logs every delivery, and
# retries after 50 ms, 100 ms, 200 ms, ... (at most 400 ms).
my %workers;    # name => pid
sub start_worker
{
	my ($name) = @_;
	my @opts = ('--name', $name, '--wait', '10', '--work-ms', '5',
		'--retry-base', '0.05', '--retry-max', '0.4', '--verbose');
	$workers{$name} =
	  $name =~ /^py/
	  ? spawn($name, $python, "$pydir/worker.py", @opts)
	  : spawn($name, $nodejs, "$nodedir/worker.js", @opts);
	return;
}

# One session watches the database; wait_for() runs a query in it until
# it prints what is expected (true), or gives up after $timeout seconds.
my $monitor = $node->background_psql('postgres');
sub wait_for
{
	my ($sql, $expected, $timeout) = @_;
	my $deadline = time() + ($timeout // 60);
	my $out;
	while (($out = $monitor->query_safe($sql)) ne $expected)
	{
		if (time() > $deadline)
		{
			diag("after ${timeout}s, $sql\nprinted '$out', expected '$expected'");
			return 0;
		}
		usleep(50_000);
	}
	return 1;
}

sub wait_shipped
{
	my ($n) = @_;
	return wait_for("SELECT count(*) >= $n FROM shop_shipments", 't', 60);
}

# Wait until the named workers sleep in a long poll.
sub wait_polling
{
	my @names = @_;
	my $list = join ',', map { "'$_'" } @names;
	return wait_for(
		"SELECT count(*) FROM pg_stat_activity
		  WHERE application_name IN ($list) AND wait_event_type = 'Extension'",
		scalar(@names), 30);
}

# Stop a worker (SIGSTOP) at a moment when its transaction is open with an
# order in hand that does not fail, doing the work: its last statement is
# the savepoint that the work runs in.  Returns the order and its delivery
# from the worker's log; the worker stays stopped.
sub freeze_mid_transaction
{
	my ($name) = @_;
	my $pid = $workers{$name};
	my $sql = "SELECT state, state_change, query FROM pg_stat_activity
	            WHERE application_name = '$name'";
	for (1 .. 500)
	{
		kill 'STOP', $pid or die "cannot stop $name: $!";
		my $state = $monitor->query_safe($sql);
		my @deliveries = slurp_log($name) =~ /order (\d+): delivery (\d+)$/mg;
		my ($order, $delivery) = @deliveries[-2, -1];
		# One that will be shipped this time, not nacked, and the same
		# state a little later: the worker did not send a statement just
		# before it stopped that its backend has yet to run.
		if (   $state =~ /^idle in transaction\|.*\|SAVEPOINT/
			&& $order % 10 != 0
			&& $order <= 1000)
		{
			usleep(100_000);
			return ($order, $delivery) if $monitor->query_safe($sql) eq $state;
		}
		kill 'CONT', $pid;
		usleep(3_000);
	}
	die "$name was never caught in the middle of a transaction";
}

# -------------------------------------------------------------------
# Four workers wait for orders in long polls.
# -------------------------------------------------------------------
my $start = time();
start_worker($_) for qw(py1 py2 node1 node2);
ok(wait_polling(qw(py1 py2 node1 node2)),
	'two Python and two Node workers wait in long polls');

# The producers, at the same time: orders 1-500 from Python, 501-1000 from
# Node; every tenth order fails on its first two deliveries.  Three poison
# orders fail on every delivery: after max_deliveries (5) they become dead
# letters.
my @failing = grep { $_ % 10 == 0 } 1 .. 1000;
my %producers = (
	py_producer => spawn('py_producer', $python, "$pydir/producer.py",
		'--first', 1, '--count', 500, '--fail-every', 10),
	node_producer => spawn('node_producer', $nodejs, "$nodedir/producer.js",
		'--first', 501, '--count', 500, '--fail-every', 10),
	poison_producer => spawn('poison_producer', $python, "$pydir/producer.py",
		'--first', 1001, '--count', 3, '--fail-every', 1, '--fail-times', 100));

# -------------------------------------------------------------------
# A fifth through: SIGKILL one worker of each language while it holds a
# lease in the middle of its transaction.
# -------------------------------------------------------------------
ok(wait_shipped(200), '200 orders shipped');
my %killed;    # name => [order, delivery] in hand
for my $name (qw(py1 node1))
{
	$killed{$name} = [ freeze_mid_transaction($name) ];
	kill 'KILL', $workers{$name};
	is(reap($workers{$name}, 10), 128 + 9, "$name is killed with order $killed{$name}[0] in hand");
}

# A worker that stalls past the visibility timeout loses its lease: the
# other worker gets the order and ships it, and when the stalled one goes
# on, its strict ack (here its nack, after the shipment failed on the
# primary key) raises 55000 and rolls its work back.
my %stalled;    # name => order
for my $pair ([qw(py2 node2)], [qw(node2 py2)])
{
	my ($name, $other) = @$pair;
	my ($order, $delivery) = freeze_mid_transaction($name);
	$stalled{$name} = $order;
	ok(wait_for(
		"SELECT worker, deliveries FROM shop_shipments WHERE order_id = $order",
		"$other|" . ($delivery + 1), 60),
		"$other ships order $order after the lease of the stalled $name ends");
	kill 'CONT', $workers{$name};
	my $deadline = time() + 60;
	usleep(20_000)
	  until slurp_log($name) =~ /order $order: lease lost/ || time() > $deadline;
	like(slurp_log($name), qr/order $order: lease lost/,
		"$name finds its lease on order $order lost and goes on");
}

# Two new workers take over, and the other two get SIGTERM in the middle
# of a transaction: they finish the order in hand and exit 0.
start_worker($_) for qw(py3 node3);
my %stopped;
for my $name (qw(py2 node2))
{
	$stopped{$name} = [ freeze_mid_transaction($name) ];
	kill 'TERM', $workers{$name};
	kill 'CONT', $workers{$name};
}
for my $name (qw(py2 node2))
{
	my ($order, $delivery) = @{ $stopped{$name} };
	is(reap($workers{$name}, 30), 0, "$name exits with status 0 after SIGTERM");
	like(slurp_log($name), qr/stopping after order $order$/m,
		"$name finished order $order, which it held at SIGTERM");
	is($node->safe_psql('postgres',
		"SELECT worker, deliveries FROM shop_shipments WHERE order_id = $order"),
		"$name|$delivery", "$name committed order $order before exiting");
}

for my $name (sort keys %producers)
{
	is(reap($producers{$name}, 60), 0, "$name exits with status 0");
}
like(slurp_log('py_producer'), qr/^placed 500 orders \(0 were there already\)$/m,
	'the Python producer placed 500 orders');
like(slurp_log('node_producer'), qr/^placed 500 orders \(0 were there already\)$/m,
	'the Node producer placed 500 orders');

# -------------------------------------------------------------------
# The new workers drain the queue.
# -------------------------------------------------------------------
ok(wait_for(
	"SELECT (SELECT count(*) FROM shop_shipments),
	        (SELECT depth FROM mq_queues WHERE queue = 'shop_orders'),
	        (SELECT depth FROM mq_queues WHERE queue = 'shop_orders_failed')",
	'1000|0|3', 60),
	'the queue is drained: 1000 orders shipped, 3 dead letters');

# Producers placing orders 451-550 again (as after a commit of unknown
# outcome) send nothing: the rows exist and the idempotency keys match.
for my $lang (qw(py node))
{
	my $pid = $lang eq 'py'
	  ? spawn("${lang}_retry", $python, "$pydir/producer.py", '--first', 451, '--count', 100)
	  : spawn("${lang}_retry", $nodejs, "$nodedir/producer.js", '--first', 451, '--count', 100);
	is(reap($pid, 60), 0, "${lang}_retry exits with status 0");
	like(slurp_log("${lang}_retry"), qr/^placed 0 orders \(100 were there already\)$/m,
		"${lang}_retry places no order again");
}
is($node->safe_psql('postgres',
	"SELECT sent FROM mq_stats WHERE queue = 'shop_orders'"), '1003',
	'1003 messages were sent, no duplicate');

# SIGTERM during a long poll ends it at once (the wait is 10 s).
ok(wait_polling(qw(py3 node3)), 'the new workers wait in long polls');
my $term = time();
kill 'TERM', $workers{$_} for qw(py3 node3);
is(reap($workers{$_}, 30), 0, "$_ exits with status 0 after SIGTERM in a long poll")
  for qw(py3 node3);
cmp_ok(time() - $term, '<', 5, 'SIGTERM cuts the long polls short');
$monitor->quit;

# -------------------------------------------------------------------
# Every order was shipped exactly once.
# -------------------------------------------------------------------
is($node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT order_id), min(order_id), max(order_id)
	   FROM shop_shipments'),
	'1000|1000|1|1000', 'orders 1-1000 are shipped, each once');
is($node->safe_psql('postgres',
	"SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'shop_orders'"),
	'0|0|0|0', 'the queue is empty');
is($node->safe_psql('postgres',
	"SELECT acked FROM mq_stats WHERE queue = 'shop_orders'"),
	'1000', 'exactly 1000 acks committed');
is($node->safe_psql('postgres',
	"SELECT string_agg(format('%s %s %s', body->>'order_id',
	                          headers->'mq_dead_letter'->>'deliveries',
	                          headers->'mq_dead_letter'->>'reason'), ','
	                   ORDER BY body->>'order_id')
	   FROM mq_peek('shop_orders_failed')"),
	'1001 5 max_deliveries,1002 5 max_deliveries,1003 5 max_deliveries',
	'the poison orders are dead letters after 5 deliveries, no other order is');

# The failing orders were nacked and shipped on a later delivery.
my $failing = join ',', @failing;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM shop_shipments WHERE order_id IN ($failing) AND deliveries >= 3"),
	scalar(@failing), 'every failing order was shipped on its third delivery or later');
cmp_ok($node->safe_psql('postgres',
	"SELECT nacked FROM mq_stats WHERE queue = 'shop_orders'"),
	'>=', 2 * @failing - 2 + 3 * 4, 'the failures were retried with nacks');
my $all_logs = join '', map { slurp_log($_) } sort keys %log_of;
for my $order (@failing[0, 1, -1])
{
	like($all_logs, qr/order $order: delivery 1 failed \(carrier unavailable\); retry in 0\.05s/,
		"order $order was retried after a 50 ms backoff");
}

# The orders in hand of the killed workers were delivered again and
# shipped by another worker.
for my $name (sort keys %killed)
{
	my ($order, $delivery) = @{ $killed{$name} };
	my ($by, $on) = split /\|/, $node->safe_psql('postgres',
		"SELECT worker, deliveries FROM shop_shipments WHERE order_id = $order");
	ok($by ne $name && $on > $delivery,
		"order $order, in hand of $name when it was killed, was shipped by $by on delivery $on");
}

unlike($all_logs, qr/Traceback|Error/, 'no client failed');
note('mq_stats of shop_orders: ' . $node->safe_psql('postgres',
	"SELECT format('sent %s, delivered %s, acked %s, nacked %s, dead_lettered %s',
	               sent, delivered, acked, nacked, dead_lettered)
	   FROM mq_stats WHERE queue = 'shop_orders'"));
note(sprintf('the clients ran for %.1f s', time() - $start));

$node->stop;
done_testing();
