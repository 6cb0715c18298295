# Long polls: mq_read(..., wait => ...) sleeps while nothing is ready and
# returns right after the commit that makes a message ready (a send, a nack,
# an mq_delay, an ack under max_inflight, a dead letter arriving, the abort of a read,
# the commit of a read whose lease was held to its end),
# never before it; it also wakes by itself when a delayed message becomes
# visible or a lease ends.  The wait is capped by queue.max_wait (reload);
# cancel and statement_timeout end it with 57014 and leave no lease; it
# needs READ COMMITTED (0A000) and a wait that is not negative (22023); a
# sleeping backend uses no CPU.
#
# Times are taken on the server (clock_timestamp()) so that the latency of
# the test's own psql round trips does not count.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = QueueTest::new_node('long_poll');

# Latest acceptable return of a woken waiter after the commit that woke it.
my $latency = 0.5;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# A waiting read: the server's clock when it returned (after the last row)
# and the rows as "body n:deliveries" joined by commas.
sub waiting_read
{
	my ($queue, $wait, %opts) = @_;
	my $qty = $opts{qty} // 10;
	my $vt = $opts{vt} // '1 hour';
	return "SELECT extract(epoch FROM clock_timestamp()),
	               coalesce(string_agg((body->>'n') || ':' || deliveries, ','
	                                   ORDER BY id), '')
	          FROM mq_read('$queue', $qty, '$vt', wait => '$wait')";
}

# Start a waiting read in a session and wait until it sleeps.
sub start_waiting
{
	my ($s, $pid, $queue, $wait, %opts) = @_;
	QueueTest::session_start($s, waiting_read($queue, $wait, %opts));
	ok(defined QueueTest::wait_until_sleeping($node, $pid),
		"$queue: the reader sleeps in its long poll");
	return;
}

# The result of a waiting read: (return time, rows).
sub waiting_result
{
	my ($s, $what) = @_;
	my ($out, $err, $state) = QueueTest::session_result($s, 60);
	is($state, '', "$what: the waiting read succeeds") or diag($err);
	return split /\|/, $out, 2;
}

sub now_sql { return 'SELECT extract(epoch FROM clock_timestamp())'; }

my $reader = QueueTest::session($node);
my $rpid = QueueTest::session_pid($reader);
my $other = QueueTest::session($node);

is(sql('SHOW queue.max_wait'), '20s', 'queue.max_wait defaults to 20 s');

# A send in an open transaction does not wake the reader; its commit does,
# at once.
{
	sql("SELECT mq_create_queue('commit')");
	start_waiting($reader, $rpid, 'commit', '15 seconds');
	QueueTest::session_query($other, 'BEGIN');
	QueueTest::session_query($other, q{SELECT mq_send('commit', '{"n": 1}')});
	my $deadline = time + 1;
	my $early = 0;
	while (time < $deadline)
	{
		$early ||= QueueTest::session_done($reader);
		usleep(20_000);
	}
	ok(!$early, 'commit: no return while the send is uncommitted (1 s)');
	is( sql("SELECT count(*) FROM pg_stat_activity
	          WHERE pid = $rpid AND wait_event_type = 'Extension'"),
		'1', 'commit: the reader still sleeps');
	my ($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, 'COMMIT');
	my ($returned, $rows) = waiting_result($reader, 'commit');
	is($rows, '1:1', 'commit: the reader gets the message');
	cmp_ok($returned, '>=', $before_commit, 'commit: not before the commit');
	cmp_ok($returned - $before_commit, '<', $latency,
		"commit: returned within $latency s of the commit");
}

# A read that returns at once when something is ready, and one that returns
# nothing at the end of its wait.
{
	sql(q{SELECT mq_send('commit', '{"n": 2}')});
	my $t0 = time;
	is( sql("SELECT string_agg(body->>'n', ',')
	           FROM mq_read('commit', 10, '1 hour', wait => '10 seconds')"),
		'2', 'ready: a waiting read takes a ready message');
	cmp_ok(time - $t0, '<', 5, 'ready: at once');

	my ($start, $end, $n) = split /\|/, sql(
		"SELECT extract(epoch FROM statement_timestamp()),
		        extract(epoch FROM clock_timestamp()), count(*)
		   FROM mq_read('commit', 1, '1 hour', wait => '300 milliseconds')");
	is($n, '0', 'deadline: nothing ready, nothing returned');
	cmp_ok($end - $start, '>=', 0.29, 'deadline: the whole wait was slept');
	cmp_ok($end - $start, '<', 1.3, 'deadline: and not much longer');
}

# A nack wakes a waiter; so does the ack that frees a place under
# max_inflight.
{
	sql(q{SELECT mq_create_queue('nack');
	      SELECT mq_send('nack', '{"n": 1}')});
	my $receipt = sql("SELECT receipt FROM mq_read('nack', 1, '1 hour')");
	start_waiting($reader, $rpid, 'nack', '15 seconds');
	my ($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, "SELECT mq_nack('nack', $receipt)");
	my ($returned, $rows) = waiting_result($reader, 'nack');
	is($rows, '1:2', 'nack: the reader gets the nacked message');
	cmp_ok($returned - $before_commit, '<', $latency,
		"nack: returned within $latency s of the nack");

	# mq_delay of a delayed message to now wakes a waiter at its commit.
	sql(q{SELECT mq_create_queue('delay_now');
	      SELECT mq_send('delay_now', '{"n": 1}', delay => '1 hour')});
	start_waiting($reader, $rpid, 'delay_now', '15 seconds');
	($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, "SELECT count(*) FROM mq_delay('delay_now', ARRAY[1])");
	($returned, $rows) = waiting_result($reader, 'mq_delay');
	is($rows, '1:1', 'mq_delay: the reader gets the message made ready');
	cmp_ok($returned - $before_commit, '<', $latency,
		"mq_delay: returned within $latency s of its commit");

	sql(q{SELECT mq_create_queue('inflight', max_inflight => 1);
	      SELECT mq_send('inflight', jsonb_build_object('n', i))
	        FROM generate_series(1, 2) i});
	$receipt = sql("SELECT receipt FROM mq_read('inflight', 1, '1 hour')");
	start_waiting($reader, $rpid, 'inflight', '15 seconds');
	($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, "SELECT mq_ack('inflight', $receipt)");
	($returned, $rows) = waiting_result($reader, 'max_inflight');
	is($rows, '2:1', 'max_inflight: the ack frees a place for the waiter');
	cmp_ok($returned - $before_commit, '<', $latency,
		"max_inflight: returned within $latency s of the ack");
}

# A dead letter arriving wakes a waiter of the dead-letter queue.
{
	sql(q{SELECT mq_create_queue('dead');
	      SELECT mq_create_queue('src', max_deliveries => 1,
	                             dead_letter_queue => 'dead');
	      SELECT mq_send('src', '{"n": 7}')});
	my $receipt = sql("SELECT receipt FROM mq_read('src', 1, '1 hour')");
	start_waiting($reader, $rpid, 'dead', '15 seconds');
	my ($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, "SELECT mq_nack('src', $receipt)");
	my ($returned, $rows) = waiting_result($reader, 'dead letter');
	is($rows, '7:1', 'dead letter: the waiter of the dead-letter queue gets it');
	cmp_ok($returned - $before_commit, '<', $latency,
		"dead letter: returned within $latency s of the nack");
}

# The abort of a transaction that read a message wakes a waiter.
{
	sql(q{SELECT mq_create_queue('abort');
	      SELECT mq_send('abort', '{"n": 1}')});
	QueueTest::session_query($other, 'BEGIN');
	my ($n) = QueueTest::session_query($other,
		"SELECT count(*) FROM mq_read('abort', 1, '1 hour')");
	is($n, '1', 'abort: a transaction leases the message');
	start_waiting($reader, $rpid, 'abort', '15 seconds');
	my ($before_abort) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, 'ROLLBACK');
	my ($returned, $rows) = waiting_result($reader, 'abort');
	is($rows, '1:2', 'abort: the reader gets the message given back');
	cmp_ok($returned - $before_abort, '<', $latency,
		"abort: returned within $latency s of the rollback");
}

# Under lease_until_transaction_end, the commit of a transaction whose
# read's vt has passed wakes a waiter: the message is ready from then on.
{
	sql(q{SELECT mq_create_queue('held', lease_until_transaction_end => true);
	      SELECT mq_send('held', '{"n": 1}')});
	QueueTest::session_query($other, 'BEGIN');
	my ($n) = QueueTest::session_query($other,
		"SELECT count(*) FROM mq_read('held', 1, '0 seconds')");
	is($n, '1', 'held: a transaction leases the message with vt 0');
	start_waiting($reader, $rpid, 'held', '15 seconds');
	usleep(300_000);
	ok(!QueueTest::session_done($reader), 'held: no return while the reading transaction is open');
	my ($before_commit) = QueueTest::session_query($other, now_sql());
	QueueTest::session_query($other, 'COMMIT');
	my ($returned, $rows) = waiting_result($reader, 'held');
	is($rows, '1:2', 'held: the reader gets the message after the commit');
	cmp_ok($returned - $before_commit, '<', $latency,
		"held: returned within $latency s of the commit");
}

# A delayed message wakes a waiter when it becomes visible: sent before the
# wait began, and sent (and committed) during the wait.
{
	sql("SELECT mq_create_queue('delay')");
	my $table = QueueTest::storage_table($node, 'delay');
	my $visible_at = sub {
		my ($id) = @_;
		return sql("SELECT extract(epoch FROM visible_at) FROM $table WHERE id = $id");
	};

	my $id = sql(q{SELECT mq_send('delay', '{"n": 1}', delay => '1 second')});
	my $visible = $visible_at->($id);
	start_waiting($reader, $rpid, 'delay', '15 seconds');
	my ($returned, $rows) = waiting_result($reader, 'delay before');
	is($rows, '1:1', 'delay before the wait: the reader gets the message');
	cmp_ok($returned, '>=', $visible, 'delay before the wait: not before it is visible');
	cmp_ok($returned - $visible, '<', $latency,
		"delay before the wait: within $latency s of its visibility");

	start_waiting($reader, $rpid, 'delay', '15 seconds');
	($id) = QueueTest::session_query($other,
		q{SELECT mq_send('delay', '{"n": 2}', delay => '1 second')});
	$visible = $visible_at->($id);
	($returned, $rows) = waiting_result($reader, 'delay during');
	is($rows, '2:1', 'delay sent during the wait: the reader gets the message');
	cmp_ok($returned, '>=', $visible, 'delay sent during the wait: not before it is visible');
	cmp_ok($returned - $visible, '<', $latency,
		"delay sent during the wait: within $latency s of its visibility");
}

# An ending lease wakes a waiter: a lease taken before the wait began, and
# one committed during the wait.
{
	sql(q{SELECT mq_create_queue('lease');
	      SELECT mq_send('lease', '{"n": 1}')});
	my ($from, $to) = split /\|/, sql(
		"SELECT extract(epoch FROM statement_timestamp()),
		        extract(epoch FROM clock_timestamp())
		   FROM mq_read('lease', 1, '1 second')");
	start_waiting($reader, $rpid, 'lease', '15 seconds');
	my ($returned, $rows) = waiting_result($reader, 'lease before');
	is($rows, '1:2', 'lease before the wait: the reader gets the message');
	cmp_ok($returned, '>=', $from + 1, 'lease before the wait: not before the lease ends');
	cmp_ok($returned - ($to + 1), '<', $latency,
		"lease before the wait: within $latency s of its end");

	start_waiting($reader, $rpid, 'lease', '15 seconds');
	QueueTest::session_query($other, 'BEGIN');
	QueueTest::session_query($other, q{SELECT mq_send('lease', '{"n": 2}')});
	my ($out) = QueueTest::session_query($other,
		"SELECT extract(epoch FROM statement_timestamp()),
		        extract(epoch FROM clock_timestamp())
		   FROM mq_read('lease', 1, '1 second')");
	($from, $to) = split /\|/, $out;
	QueueTest::session_query($other, 'COMMIT');
	($returned, $rows) = waiting_result($reader, 'lease during');
	is($rows, '2:2', 'lease during the wait: the reader gets the message');
	cmp_ok($returned, '>=', $from + 1, 'lease during the wait: not before the lease ends');
	cmp_ok($returned - ($to + 1), '<', $latency,
		"lease during the wait: within $latency s of its end");
}

# Cancel and statement_timeout raise 57014; the transaction's leases go with
# it, so another session reads the message at once.
{
	sql(q{SELECT mq_create_queue('cancel');
	      SELECT mq_create_queue('cancel_empty');
	      SELECT mq_send('cancel', '{"n": 1}')});
	QueueTest::session_query($reader, 'BEGIN');
	my ($n) = QueueTest::session_query($reader,
		"SELECT count(*) FROM mq_read('cancel', 1, '1 hour')");
	is($n, '1', 'cancel: the reader\'s transaction leases a message');
	start_waiting($reader, $rpid, 'cancel_empty', '15 seconds');
	my $t0 = time;
	sql("SELECT pg_cancel_backend($rpid)");
	my ($out, $err, $state) = QueueTest::session_result($reader, 60);
	is($state, '57014', 'cancel: the waiting read raises 57014');
	cmp_ok(time - $t0, '<', 5, 'cancel: at once');
	is( sql("SELECT string_agg((body->>'n') || ':' || deliveries, ',')
	           FROM mq_read('cancel', 10, '1 hour')"),
		'1:2', 'cancel: another session reads the message at once');
	is(sql("SELECT inflight FROM mq_queues WHERE queue = 'cancel_empty'"),
		'0', 'cancel: nothing leased on the waited queue');
	QueueTest::session_query($reader, 'ROLLBACK');

	sql(q{SELECT mq_send('cancel', '{"n": 2}')});
	QueueTest::session_query($reader, q{SET statement_timeout = '500ms'});
	QueueTest::session_query($reader, 'BEGIN');
	($n) = QueueTest::session_query($reader,
		"SELECT count(*) FROM mq_read('cancel', 1, '1 hour')");
	is($n, '1', 'statement_timeout: the reader\'s transaction leases a message');
	($out, $err, $state) = QueueTest::session_query($reader,
		"SELECT extract(epoch FROM statement_timestamp()) FROM mq_read('cancel_empty', 1, '1 hour', wait => '10 seconds')");
	is($state, '57014', 'statement_timeout: the waiting read raises 57014');
	like($err, qr/statement timeout/, 'statement_timeout: the message says so');
	is( sql("SELECT string_agg((body->>'n') || ':' || deliveries, ',')
	           FROM mq_read('cancel', 10, '1 hour')"),
		'2:2', 'statement_timeout: another session reads the message at once');
	QueueTest::session_query($reader, 'ROLLBACK');
	QueueTest::session_query($reader, 'RESET statement_timeout');
}

# Cancel racing with the commit that wakes the waiter: whichever wins, the
# message is either returned to the reader (and leased) or ready for
# another session (and not leased).
{
	sql(q{SELECT mq_create_queue('race')});
	my %outcome = (got => 0, cancelled => 0);
	for my $round (1 .. 10)
	{
		QueueTest::session_query($other, 'BEGIN');
		QueueTest::session_query($other,
			"SELECT mq_send('race', jsonb_build_object('n', $round))");
		start_waiting($reader, $rpid, 'race', '15 seconds');
		if ($round % 2)
		{
			QueueTest::session_start($other, 'COMMIT');
			sql("SELECT pg_cancel_backend($rpid)");
		}
		else
		{
			my $canceller = $node->background_psql('postgres');
			$canceller->{stdin} .= "SELECT pg_cancel_backend($rpid);\n";
			$canceller->{run}->pump_nb;
			QueueTest::session_start($other, 'COMMIT');
			$canceller->quit;
		}
		QueueTest::session_result($other, 60);
		my ($out, $err, $state) = QueueTest::session_result($reader, 60);
		my $mine = (split /\|/, $out // '', 2)[1] // '';
		my $figures = sql("SELECT ready || '/' || inflight FROM mq_queues
		                    WHERE queue = 'race'");
		if ($state eq '57014')
		{
			$outcome{cancelled}++;
			is($figures, '1/0', "race $round: cancelled, the message is ready");
		}
		else
		{
			$outcome{got}++;
			is("$state $mine", " $round:1", "race $round: the reader got the message");
			is($figures, '0/1', "race $round: and holds its lease");
		}
		sql("SELECT mq_purge('race')");
	}
	note("race outcomes: $outcome{got} read, $outcome{cancelled} cancelled");
}

# queue.max_wait caps the wait (a reload changes it).
{
	sql(q{SELECT mq_create_queue('cap')});
	QueueTest::reload_settings($node, 'queue.max_wait' => '1s');
	my $s = QueueTest::session($node);
	my ($out) = QueueTest::session_query($s,
		"SELECT extract(epoch FROM statement_timestamp()),
		        extract(epoch FROM clock_timestamp()), count(*)
		   FROM mq_read('cap', 1, '1 hour', wait => '10 seconds')");
	my ($start, $end, $n) = split /\|/, $out;
	is($n, '0', 'max_wait: nothing returned');
	cmp_ok($end - $start, '>=', 0.95, 'max_wait: the read waited about 1 s');
	cmp_ok($end - $start, '<', 3, 'max_wait: not the 10 s asked for');
	QueueTest::session_close($s);
	QueueTest::reload_settings($node, 'queue.max_wait' => '20s');
}

# A waiting read needs READ COMMITTED, and a wait that is not negative.
{
	sql(q{SELECT mq_create_queue('iso'); SELECT mq_send('iso', '{"n": 1}')});
	for my $level ('REPEATABLE READ', 'SERIALIZABLE')
	{
		my ($state) = QueueTest::sql_error($node,
			"BEGIN ISOLATION LEVEL $level;
			 SELECT * FROM mq_read('iso', 1, '1 hour', wait => '1 second')");
		is($state, '0A000', "$level: a waiting read raises 0A000");
	}
	is( sql("BEGIN ISOLATION LEVEL REPEATABLE READ;
	         SELECT count(*) FROM mq_read('iso', 1, '1 hour', wait => '0');
	         ROLLBACK"),
		'1', 'REPEATABLE READ: a read without wait works');
	my ($state) = QueueTest::sql_error($node,
		"SELECT * FROM mq_read('iso', 1, '1 hour', wait => '-1 second')");
	is($state, '22023', 'a negative wait raises 22023');
	($state) = QueueTest::sql_error($node,
		"SELECT * FROM mq_read('iso', 1, '1 hour', wait => NULL)");
	is($state, '22023', 'a NULL wait raises 22023');
}

# A sleeping reader uses no CPU.
{
	sql(q{SELECT mq_create_queue('idle')});
	start_waiting($reader, $rpid, 'idle', '20 seconds');
	my $before = QueueTest::cpu_ticks($rpid);
	sleep 3;
	my $used = QueueTest::cpu_ticks($rpid) - $before;
	ok(!QueueTest::session_done($reader), 'idle: still waiting after 3 s');
	cmp_ok($used, '<', 5, 'idle: less than 5 clock ticks of CPU in 3 s of waiting');
	sql(q{SELECT mq_send('idle', '{"n": 1}')});
	my (undef, $rows) = waiting_result($reader, 'idle');
	is($rows, '1:1', 'idle: a send ends the wait');
}

QueueTest::session_close($reader);
QueueTest::session_close($other);
$node->stop;
done_testing();
