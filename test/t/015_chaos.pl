# Faults under load, and every delivery guarantee checked afterwards
# (SPEC sections 3 and 9).
#
# Producers use the transactional outbox: each transaction inserts business
# ids n into sent_ledger and sends one message per n to the logged queue
# 'q' (visibility timeout 2 s), so sent_ledger holds exactly the sends that
# committed:
#
#   p1  mq_send, one per transaction
#   p2  mq_send with priorities 0..2 (the read order is not the send order)
#   p3  mq_send; every 3rd transaction rolls back, every 5th send is
#       delayed by a second
#   b1  mq_send_batch of five
#
# Each pauses while the queue holds more than 20 000 messages, so that a
# long run leaves no backlog that takes minutes to drain.  e1 sends to the
# queue 'ttl' (message_ttl 1 s, dead letters to 'expired'), with its own
# ledger, so that the background worker has work.
#
# Exactly-once consumers insert each message's n into processed_ledger
# (primary key n: a second delivery of a processed message fails loudly
# with 23505) and ack strictly in the same transaction:
#
#   c1  read 5, insert, array ack, commit
#   c2  read 1 with a long poll, insert, ack, commit
#   c3  read 2 with a 300 ms lease, up to 400 ms of work, insert, ack:
#       leases end mid-work and the late ack raises 55000, rolling back
#   c4  read 3, insert, ack; every 4th transaction rolls back
#   c5  read 2 in autocommit (the lease outlives a killed consumer until
#       the visibility timeout), then ack strictly and insert in one
#       transaction
#
# Faults, at moments drawn from a seeded random generator (the seed is
# printed; QUEUE_TEST_SEED=<seed> replays the same choices, not the same
# timing): producer and consumer backends are terminated in the middle of
# their transactions all along (pg_terminate_backend), and each round ends
# with one of, in turn:
#
#   SIGKILL of the background worker (the launcher every other time), so
#   that the postmaster kills every backend and reinitialises
#   three immediate shutdowns in a row, each after some more load
#   SIGTERM of the background worker (the launcher starts it again)
#
# Clients that die are started again.  After each crash, with the load
# stopped: sent_ledger = stored messages + processed_ledger, with no
# overlap (no committed send lost, no acked message back, no rolled-back
# send stored) and no lease left.  At the end the producers stop, the
# consumers drain the queue, and once the visibility timeout has passed:
# processed_ledger = sent_ledger row for row, nothing is stored or
# readable, the figures are zero, no consumer ever hit a duplicate, every
# ttl message was dead-lettered exactly once, and the worker runs.
#
# QUEUE_CHAOS_ROUNDS sets the number of rounds (default 3: one of each).
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $rounds = $ENV{QUEUE_CHAOS_ROUNDS} || 3;
my $per_script = 2000;    # transactions in each generated script
my $backlog = 20000;      # producers pause while the queue is deeper
my $seed = $ENV{QUEUE_TEST_SEED} // int(time);
srand($seed);
note "random seed $seed, $rounds rounds";

my $node = QueueTest::new_node('chaos', restart_after_crash => 1,
	conf => [ 'log_statement = none', 'max_connections = 40',
		'queue.naptime = 200ms' ]);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('q', visibility_timeout => '2 seconds');
	SELECT mq_create_queue('expired');
	SELECT mq_create_queue('ttl', message_ttl => '1 second',
	                       dead_letter_queue => 'expired');
	CREATE TABLE sent_ledger (n bigint PRIMARY KEY, producer text NOT NULL);
	CREATE TABLE ttl_ledger (n bigint PRIMARY KEY);
	CREATE TABLE processed_ledger (n bigint PRIMARY KEY, msg_id bigint NOT NULL,
	                               receipt bigint NOT NULL, deliveries int NOT NULL,
	                               consumer text NOT NULL, tag text NOT NULL);
	CREATE INDEX ON processed_ledger (tag);
});
my $qtable = QueueTest::storage_table($node, 'q');
my $expired_table = QueueTest::storage_table($node, 'expired');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# ---------------------------------------------------------------------
# The clients: psql scripts, generated per start ("generation") so that
# business ids never repeat: n = base * 10^9 + generation * 10^6 + step.

my %producer = (
	p1 => { base => 1 },
	p2 => { base => 2, priority => 1 },
	p3 => { base => 3, rollback_every => 3, delay_every => 5 },
	b1 => { base => 4, batch => 5 },
	e1 => { base => 5, ttl => 1 });

my %consumer = (
	c1 => { read => "5, wait => '100 ms'", array_ack => 1 },
	c2 => { read => "1, wait => '200 ms'" },
	c3 => { read => "2, '300 ms', wait => '100 ms'", work => 0.4, array_ack => 1 },
	c4 => { read => "3, wait => '100 ms'", array_ack => 1, rollback_every => 4 },
	c5 => { read => "2, wait => '100 ms'", read_first => 1 });

# A producer prints "c <first n> <last n>" once a transaction has
# committed, "r <first n> <last n>" once one has rolled back.
sub producer_script
{
	my ($name, $gen) = @_;
	my $p = $producer{$name};
	my $s = "\\o /dev/null\n";
	for my $i (1 .. $per_script)
	{
		my $size = $p->{batch} || 1;
		my $lo = $p->{base} * 1_000_000_000 + $gen * 1_000_000 + $i * $size;
		my $hi = $lo + $size - 1;
		my $rollback = $p->{rollback_every} && $i % $p->{rollback_every} == 0;
		$s .= QueueTest::pool_stop_check('producer') . "BEGIN;\n";
		if ($p->{batch})
		{
			$s .= "INSERT INTO sent_ledger SELECT n, '$name' FROM generate_series($lo, $hi) n;\n"
			  . "SELECT mq_send_batch('q', ARRAY(SELECT jsonb_build_object('n', n) "
			  . "FROM generate_series($lo, $hi) n));\n";
		}
		elsif ($p->{ttl})
		{
			$s .= "INSERT INTO ttl_ledger VALUES ($lo);\n"
			  . "SELECT mq_send('ttl', jsonb_build_object('n', $lo));\n";
		}
		else
		{
			my @opts;
			push @opts, 'priority => ' . ($i % 3) if $p->{priority};
			push @opts, "delay => '1 second'"
			  if $p->{delay_every} && $i % $p->{delay_every} == 0;
			$s .= "INSERT INTO sent_ledger VALUES ($lo, '$name');\n"
			  . "SELECT mq_send('q', jsonb_build_object('n', $lo)"
			  . join('', map { ", $_" } @opts) . ");\n";
		}
		$s .= $rollback ? "ROLLBACK;\n\\echo r $lo $hi\n" : "COMMIT;\n\\echo c $lo $hi\n";
		$s .= "SELECT pg_sleep(0.05);\n" if $p->{ttl};
		$s .= "SELECT pg_sleep(0.5) FROM mq_queues WHERE queue = 'q' AND depth > $backlog;\n"
		  if $i % 20 == 0 && !$p->{ttl};
	}
	return $s . "\\echo done\n";
}

sub consumer_script
{
	my ($name, $gen) = @_;
	my $c = $consumer{$name};
	my $s = "\\o /dev/null\n";
	$s .= "CREATE TEMP TABLE got (n bigint, id bigint, receipt bigint, deliveries int);\n"
	  if $c->{read_first};
	for my $i (1 .. $per_script)
	{
		my $tag = "$name.$gen.$i";
		my $end =
		  ($c->{rollback_every} && $i % $c->{rollback_every} == 0) ? 'ROLLBACK' : 'COMMIT';
		$s .= QueueTest::pool_stop_check('consumer');
		if ($c->{read_first})
		{
			# The read commits on its own; the ack comes first in the
			# transaction that does the work, so that a lease lost
			# meanwhile rolls the work back before it conflicts with the
			# consumer that got the message next.
			$s .= "DELETE FROM got;\n"
			  . "INSERT INTO got SELECT (body->>'n')::bigint, id, receipt, deliveries "
			  . "FROM mq_read('q', $c->{read});\n"
			  . "BEGIN;\n"
			  . "SELECT mq_ack('q', coalesce(array_agg(receipt), '{}'), strict => true) FROM got;\n"
			  . "INSERT INTO processed_ledger SELECT n, id, receipt, deliveries, "
			  . "'$name', '$tag' FROM got;\n"
			  . "$end;\n";
			next;
		}
		$s .= "BEGIN;\n"
		  . "INSERT INTO processed_ledger SELECT (body->>'n')::bigint, id, receipt, "
		  . "deliveries, '$name', '$tag' FROM mq_read('q', $c->{read});\n";
		$s .= "SELECT pg_sleep(random() * $c->{work});\n" if $c->{work};
		$s .=
		  $c->{array_ack}
		  ? "SELECT mq_ack('q', coalesce(array_agg(receipt), '{}'), strict => true) "
		  . "FROM processed_ledger WHERE tag = '$tag';\n"
		  : "SELECT mq_ack('q', receipt, strict => true) FROM processed_ledger "
		  . "WHERE tag = '$tag';\n";
		$s .= "$end;\n";
	}
	return $s;
}

my %seen;         # n => 'c' (a producer saw it commit) or 'r' (roll back),
                  # until checked against the ledger

# What a producer's run saw commit and roll back (e1 has a ledger of its
# own).
sub producer_ended
{
	my ($name, $out) = @_;
	return if $name eq 'e1';
	for ($out =~ /^([cr] \d+ \d+)$/mg)
	{
		my ($mark, $lo, $hi) = split / /;
		$seen{$_} = $mark for $lo .. $hi;
	}
	return;
}

my $pool = QueueTest::pool_new(
	$node, PostgreSQL::Test::Utils::tempdir,
	producers => [ keys %producer ],
	consumers => [ keys %consumer ],
	producer_script => \&producer_script,
	consumer_script => \&consumer_script,
	producer_ended => \&producer_ended);

# Whether a consumer has hit a duplicate (a processed message delivered
# again), in a run that ended or one still running: the drain would never
# end then.
sub duplicate_seen
{
	return QueueTest::pool_error_seen($pool, 'consumer', '23505');
}

# After a crash or shutdown every client loses its connection and ends
# (one started just as the server came back is stopped); with $up, wait
# until their backends are gone too.
sub reap_all
{
	my ($up) = @_;
	QueueTest::pool_reap_all($pool, 30);
	return 1 unless $up;
	return $node->poll_query_until('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name ~ '^[cpbe][0-9]$'},
		'0');
}

# Terminate a client backend that is inside a transaction (c5 also
# between its read and its transaction): a consumer three times out of
# four.  Returns the victim's role or ''.
my %terminated;

sub terminate_one
{
	my ($role) = @_;
	$role //= rand() < 0.75 ? 'consumer' : 'producer';
	my $names = $role eq 'consumer' ? '^c' : '^[pbe]';
	my $busy = "application_name ~ '$names' AND backend_type = 'client backend'
	   AND (state = 'idle in transaction' OR application_name = 'c5'
	        OR (state = 'active' AND query NOT LIKE 'SELECT pg_sleep(0.%'))";
	my @pids = split /\n/,
	  sql("SELECT pid FROM pg_stat_activity WHERE $busy ORDER BY pid");
	return '' unless @pids;
	my $pid = $pids[ int(rand(@pids)) ];
	return '' unless sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
	                       WHERE pid = $pid AND $busy") eq 't';
	$terminated{$role}++;
	return $role;
}

# Load for at least $seconds with random terminations, and until the
# producers and consumers have made progress.
sub load
{
	my ($seconds) = @_;
	my ($sent0, $done0) = split /\|/,
	  sql('SELECT (SELECT count(*) FROM sent_ledger), (SELECT count(*) FROM processed_ledger)');
	my $start = time;
	while (1)
	{
		QueueTest::pool_supervise($pool);
		terminate_one() if rand() < 0.4;
		usleep(150_000);
		next if time < $start + $seconds;
		my ($sent, $done) = split /\|/,
		  sql('SELECT (SELECT count(*) FROM sent_ledger), (SELECT count(*) FROM processed_ledger)');
		return 1 if $sent >= $sent0 + 50 && $done >= $done0 + 50;
		return 0 if time > $start + $seconds + 120;
	}
}

# Terminate one backend of the role in a transaction, trying until one is.
sub terminate_role
{
	my ($role) = @_;
	for (1 .. 200)
	{
		QueueTest::pool_supervise($pool);
		return 1 if terminate_one($role) eq $role;
		usleep(50_000);
	}
	return 0;
}

# The guarantees at a moment without load: every committed send is either
# stored or processed, never both, and nothing else is stored or processed.
sub check_ledgers
{
	my ($when) = @_;
	my $result = sql(qq{
		WITH stored AS (SELECT (body->>'n')::bigint AS n FROM $qtable)
		SELECT 'lost: ' || coalesce((SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM sent_ledger
			EXCEPT SELECT n FROM stored EXCEPT SELECT n FROM processed_ledger
			ORDER BY 1 LIMIT 10) x), '')
		 || '; stored, not sent: ' || coalesce((SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM stored EXCEPT SELECT n FROM sent_ledger ORDER BY 1 LIMIT 10) x), '')
		 || '; processed, not sent: ' || coalesce((SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM processed_ledger EXCEPT SELECT n FROM sent_ledger
			ORDER BY 1 LIMIT 10) x), '')
		 || '; processed and still stored: ' || coalesce((SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM stored INTERSECT SELECT n FROM processed_ledger
			ORDER BY 1 LIMIT 10) x), '')
		 || '; stored twice: ' || coalesce((SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM stored GROUP BY n HAVING count(*) > 1 ORDER BY 1 LIMIT 10) x), '')});
	is($result,
		'lost: ; stored, not sent: ; processed, not sent: ; '
		  . 'processed and still stored: ; stored twice: ',
		"$when: sent = stored + processed, nothing lost, nothing back");

	my $committed = join ',', grep { $seen{$_} eq 'c' } keys %seen;
	my $rolled_back = join ',', grep { $seen{$_} eq 'r' } keys %seen;
	is( sql(qq{SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM unnest('{$committed}'::bigint[]) n
			EXCEPT SELECT n FROM sent_ledger ORDER BY 1 LIMIT 10) x}),
		'', "$when: every send a producer saw commit is in the ledger");
	is( sql(qq{SELECT string_agg(n::text, ',') FROM (
			SELECT n FROM unnest('{$rolled_back}'::bigint[]) n
			INTERSECT SELECT n FROM sent_ledger ORDER BY 1 LIMIT 10) x}),
		'', "$when: no rolled-back send is in the ledger");
	%seen = ();
	return;
}

# Figures right after a restart: no lease survived.
sub check_figures
{
	my ($when) = @_;
	my $stored = sql("SELECT count(*) FROM $qtable");
	is( sql(q{SELECT depth || '|' || inflight || '|' || (ready + delayed = depth)::text
	            FROM mq_queues WHERE queue = 'q'}),
		"$stored|0|true", "$when: figures match the table, no lease survived");
	return;
}

# Wait until the postmaster has reinitialised after the death of $pid.
sub wait_for_crash_restart
{
	my ($pid, $offset) = @_;
	$node->wait_for_log(qr/\(PID $pid\) was terminated by signal 9/, $offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $offset);
	return $node->poll_query_until('postgres', 'SELECT 1', '1');
}

# A worker process (or the launcher), waited for under load.
sub background_pid
{
	my ($type) = @_;
	my $deadline = time + 90;
	while (time < $deadline)
	{
		my ($pid) = $type eq 'launcher'
		  ? QueueTest::queue_launchers($node)
		  : QueueTest::queue_workers($node, 'postgres');
		return $pid if $pid;
		QueueTest::pool_supervise($pool);
		usleep(200_000);
	}
	return;
}

# ---------------------------------------------------------------------
my @kinds = ('sigkill', 'shutdowns', 'sigterm');
my %done;
my $t0 = time;
my $sigkills = 0;

for my $round (1 .. $rounds)
{
	my $kind = $kinds[ ($round - 1) % @kinds ];
	ok(load(2 + rand(3)), "round $round: producers and consumers made progress");
	ok(terminate_role('consumer'), "round $round: a consumer was terminated mid-transaction");
	ok(terminate_role('producer'), "round $round: a producer was terminated mid-transaction");

	if ($kind eq 'sigkill')
	{
		my $type = $sigkills++ % 2 ? 'launcher' : 'worker';
		my ($pid, $killed, $offset);
		for (1 .. 10)
		{
			$pid = background_pid($type) or last;
			$offset = -s $node->logfile;
			last if $killed = kill('KILL', $pid);
		}
		ok($killed, "round $round: the $type was killed with SIGKILL");
		note "round $round: SIGKILL of the $type ($pid)";
		ok(wait_for_crash_restart($pid, $offset), "round $round: the server reinitialised");
		ok(reap_all(1), "round $round: every client is gone");
		check_ledgers("round $round, after SIGKILL of the $type");
		check_figures("round $round, after SIGKILL of the $type");
	}
	elsif ($kind eq 'sigterm')
	{
		my $pid = background_pid('worker');
		ok($pid, "round $round: the worker runs");
		note "round $round: SIGTERM of the worker ($pid)";
		ok(kill('TERM', $pid), "round $round: worker sent SIGTERM");
		ok( defined QueueTest::poll_until($node, 'postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', 30),
			"round $round: the worker exited");
		ok(load(1 + rand(2)), "round $round: load goes on");
	}
	else
	{
		for my $stop (1 .. 3)
		{
			ok(load(1 + rand(2)), "round $round: load before immediate shutdown $stop")
			  if $stop > 1;
			note "round $round: immediate shutdown $stop";
			$node->stop('immediate');
			reap_all();
			$node->start;
			check_ledgers("round $round, after immediate shutdown $stop");
			check_figures("round $round, after immediate shutdown $stop");
		}
	}
	$done{$kind}++;
	last if duplicate_seen();
}

# ---------------------------------------------------------------------
# The producers stop; the consumers drain the queue, then stop.
is(join(',', QueueTest::pool_stop($pool, 'producer')), '', 'producers stopped');

# As long as the depth goes down within a minute.
my ($drained, $lowest, $lowest_at) = (0, undef, time);
while (time < $lowest_at + 60)
{
	QueueTest::pool_supervise($pool);
	my $depth = sql(q{SELECT depth FROM mq_queues WHERE queue = 'q'});
	($lowest, $lowest_at) = ($depth, time) if !defined $lowest || $depth < $lowest;
	$drained = $depth eq '0';
	last if $drained || duplicate_seen();
	usleep(100_000);
}
ok($drained, 'the consumers drained the queue');
is(join(',', QueueTest::pool_stop($pool, 'consumer')), '', 'consumers stopped');
note sprintf('load, faults and drain took %.1f s', time - $t0);

# Past the visibility timeout: leases of killed consumers have ended.
sleep 3;

my ($sent, $processed, $redelivered) = split /\|/, sql(q{
	SELECT (SELECT count(*) FROM sent_ledger), (SELECT count(*) FROM processed_ledger),
	       (SELECT count(*) FROM processed_ledger WHERE deliveries > 1)});
note "$sent sends committed, $processed processed ($redelivered on a later delivery), "
  . ($terminated{consumer} // 0) . ' consumer and ' . ($terminated{producer} // 0)
  . " producer backends terminated, $pool->{restarts} clients started again";
for my $role ('consumer', 'producer')
{
	my $errors = QueueTest::pool_errors($pool, $role);
	note "$role errors: $errors" if $errors ne '';
}
my @expected = @kinds[ 0 .. ($rounds < @kinds ? $rounds : scalar @kinds) - 1 ];
is(join(',', grep { !$done{$_} } @expected), '', 'every kind of fault was injected');

# Exactly once, row for row.
is( sql(q{SELECT count(*) FROM sent_ledger s FULL JOIN processed_ledger p USING (n)
	       WHERE s.n IS NULL OR p.n IS NULL}),
	'0', 'processed_ledger = sent_ledger, row for row');
is($processed, $sent, 'as many processed as sent');
is(sql('SELECT count(*) - count(DISTINCT msg_id) FROM processed_ledger'),
	'0', 'no message was processed twice');
is(QueueTest::pool_error_count($pool, 'consumer', '23505'),
	0, 'no consumer ever got a processed message again');
is(QueueTest::pool_errors($pool, 'consumer', '55000', '25P02'),
	'', 'consumers saw no SQL errors but lost leases and their aftermath');
is(QueueTest::pool_errors($pool, 'producer'), '', 'producers saw no SQL errors');
cmp_ok($sent, '>', 0, 'sends were committed');
check_ledgers('after the drain');

# Nothing comes back.
is( sql(q{SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'q'}),
	'0|0|0|0', 'queue figures are zero');
is(sql("SELECT count(*) FROM $qtable"), '0', 'no message stored');
is(sql(q{SELECT count(*) FROM mq_read('q', 10000)}), '0', 'mq_read returns nothing');
is(sql(q{SELECT count(*) FROM mq_peek('q', 10000)}), '0', 'mq_peek shows nothing');

# The worker runs and dead-lettered every ttl message exactly once.
ok(defined((QueueTest::wait_for_worker($node, 'postgres', 60))[0]),
	'a worker serves the database after the faults');
ok( defined QueueTest::poll_until($node, 'postgres',
		q{SELECT depth FROM mq_queues WHERE queue = 'ttl'}, '0', 60),
	'every ttl message left its queue');
is( sql(qq{
	WITH dead AS (SELECT (body->>'n')::bigint AS n,
	                     headers->'mq_dead_letter'->>'reason' AS reason
	                FROM $expired_table)
	SELECT (SELECT count(*) FROM ttl_ledger t FULL JOIN dead d USING (n)
	         WHERE t.n IS NULL OR d.n IS NULL)
	    || '|' || (SELECT count(*) - count(DISTINCT n) FROM dead)
	    || '|' || (SELECT count(*) FROM dead WHERE reason IS DISTINCT FROM 'ttl')}),
	'0|0|0',
	'every committed ttl send was dead-lettered once, with reason ttl');
cmp_ok(sql('SELECT count(*) FROM ttl_ledger'), '>', 0, 'ttl messages were sent');

$node->stop;
done_testing();
