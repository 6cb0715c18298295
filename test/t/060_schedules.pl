# Schedules fired by the background worker (SPEC section 10).
#
#   - 'N seconds' and per-minute schedules run on time: each run within a
#     naptime of its scheduled time; with a long naptime the worker wakes
#     for the next due time instead;
#   - each scheduled time is sent exactly once (the target queues keep no
#     idempotency keys, so a doubled run would show) across SIGKILLs of the
#     worker (crash restarts), an immediate shutdown while a run waits in
#     the middle of its transaction, and a failover to a standby; no time
#     is missing beyond the catch-up rule;
#   - after downtime, a catch_up schedule makes every missed time, the
#     others only the latest;
#   - a revoked privilege records last_error and skips the times; the
#     schedule goes on once the grant is back;
#   - 10 000 schedules due at the same time all fire, once each; the lag
#     of their runs is reported (p50/p99).
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes;

my $node = QueueTest::new_node('sched',
	restart_after_crash => 1,
	conf => [ 'wal_level = replica', 'max_wal_senders = 4' ]);
ok(defined((QueueTest::wait_for_worker($node, 'postgres', 10))[0]),
	'a worker serves the database');

# A queue for a schedule, keeping idempotency keys for no time: a run sent
# twice would be two messages.
sub target_queue
{
	my ($n, $queue) = @_;
	$n->safe_psql('postgres',
		"SELECT mq_create_queue('$queue', dedup_window => '0')");
	return;
}

# The scheduled times (epoch seconds) of the messages of a queue, in order.
sub times_of
{
	my ($n, $queue) = @_;
	return split /\n/, $n->safe_psql('postgres',
		"SELECT extract(epoch FROM (headers->'mq_schedule'->>'at')::timestamptz)::bigint
		   FROM mq_peek('$queue', 10000) ORDER BY 1");
}

# '' if the times are every $step seconds from the first to the last, each
# once; else what is wrong.
sub every_time_once
{
	my ($step, @t) = @_;
	return 'no runs' unless @t;
	for my $i (1 .. $#t)
	{
		return "$t[$i] twice" if $t[$i] == $t[ $i - 1 ];
		return "missing after $t[$i-1] (next $t[$i])"
		  if $t[$i] != $t[ $i - 1 ] + $step;
	}
	return '';
}

sub runs_of
{
	my ($n, $schedule) = @_;
	return $n->safe_psql('postgres',
		"SELECT runs FROM mq_schedules WHERE schedule = '$schedule'");
}

# A schedule's run count and the times of its messages, read while no run
# commits in between (a run sends and counts in one transaction, and the
# schedule goes on running meanwhile).
sub runs_and_times
{
	my ($n, $schedule, $queue) = @_;
	for (1 .. 20)
	{
		my $runs = runs_of($n, $schedule);
		my @times = times_of($n, $queue);
		return ($runs, @times) if runs_of($n, $schedule) == $runs;
	}
	die "$schedule: runs keep changing";
}

# ---------------------------------------------------------------------
# On time.
# ---------------------------------------------------------------------

# A per-minute schedule on a second node that nothing else disturbs (no
# restarts, no bursts), checked at the end: its minute comes meanwhile.
my $quiet = QueueTest::new_node('sched_quiet');
target_queue($quiet, 'minute_q');
$quiet->safe_psql('postgres',
	q{SELECT mq_create_schedule('minute', '* * * * *', 'minute_q', '{"every": "minute"}')});
my $minute_created = QueueTest::server_time($quiet);

# Every 2 seconds, then with a 10-second naptime: the worker must wake for
# the schedule's times, not only once a naptime.
target_queue($node, 'hb');
$node->safe_psql('postgres',
	q{SELECT mq_create_schedule('hb', '2 seconds', 'hb', '{"beat": true}', headers => '{"app": "hb"}')});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT runs > 0 FROM mq_schedules WHERE schedule = 'hb'}, 't', 15),
	'hb: the first run (within a naptime)');
QueueTest::reload_settings($node, 'queue.naptime' => '10s');
sleep 7;
my $hb = $node->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE enqueued_at - (headers->'mq_schedule'->>'at')::timestamptz
	                                 BETWEEN '0' AND '900 ms'),
	         count(*),
	         count(*) FILTER (WHERE body = '{"beat": true}' AND headers->>'app' = 'hb'
	                          AND headers->'mq_schedule'->>'name' = 'hb'),
	         max((headers->'mq_schedule'->>'at')::timestamptz)
	           = (SELECT last_run FROM mq_schedules WHERE schedule = 'hb')
	    FROM mq_peek('hb', 10000)
	   WHERE (headers->'mq_schedule'->>'at')::timestamptz
	         > (SELECT min((headers->'mq_schedule'->>'at')::timestamptz) FROM mq_peek('hb', 10000))});
my ($on_time, $later, $well_formed, $last_run) = split /\|/, $hb;
cmp_ok($later, '>=', 3, "hb: runs every 2 seconds ($later after the first)");
is($on_time, $later, 'hb: each later run within 0.9 s of its time (naptime is 10 s)');
is($well_formed, $later, 'hb: body, headers and the mq_schedule header');
is($last_run, 't', 'hb: last_run is the latest time sent');
my ($hb_runs, @hb) = runs_and_times($node, 'hb', 'hb');
is(every_time_once(2, @hb), '', 'hb: every 2 seconds, each once');
is($hb[0] % 2, 0, 'hb: on whole multiples of 2 seconds');
is($hb_runs, scalar(@hb), 'hb: runs counts the messages');
$node->safe_psql('postgres', q{SELECT mq_drop_schedule('hb')});
QueueTest::reload_settings($node, 'queue.naptime' => '1s');

# ---------------------------------------------------------------------
# Exactly once across SIGKILLs of the worker.
# ---------------------------------------------------------------------
target_queue($node, 'ex_q');
$node->safe_psql('postgres',
	q{SELECT mq_create_schedule('ex', '1 second', 'ex_q', '{}', catch_up => true)});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT runs > 0 FROM mq_schedules WHERE schedule = 'ex'}, 't', 15),
	'ex: running');
for my $kill (1 .. 2)
{
	Time::HiRes::usleep(700_000 + 300_000 * $kill);
	my ($pid) = QueueTest::wait_for_worker($node, 'postgres', 30);
	my $offset = -s $node->logfile;
	kill 'KILL', $pid or die "cannot kill the worker $pid: $!";
	$node->wait_for_log(qr/\(PID $pid\) was terminated by signal 9/, $offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $offset);
}
ok(defined((QueueTest::wait_for_worker($node, 'postgres', 30))[0]),
	'ex: the worker is back after two SIGKILLs');
my $after_kills = QueueTest::server_time($node);
ok(defined QueueTest::poll_until($node, 'postgres',
		"SELECT last_run > to_timestamp($after_kills + 1) FROM mq_schedules WHERE schedule = 'ex'",
		't', 20),
	'ex: runs again');
my ($ex_runs, @ex) = runs_and_times($node, 'ex', 'ex_q');
is(every_time_once(1, @ex), '', 'ex: every second from the first run on, each once ('
	  . scalar(@ex) . ' runs)');
is($ex_runs, scalar(@ex), 'ex: runs counts the messages');
$node->safe_psql('postgres', q{SELECT mq_drop_schedule('ex')});

# ---------------------------------------------------------------------
# An immediate shutdown while a run is in the middle of its transaction
# (the worker has locked the schedule and waits, inside the send, on an
# idempotency key that an open transaction is sending too), and 4 seconds
# of downtime: catch_up makes every missed time, the other only the latest.
# ---------------------------------------------------------------------
target_queue($node, 'cu_on_q');
target_queue($node, 'cu_off_q');
$node->safe_psql('postgres',
	q{SELECT mq_create_schedule('cu_on', '1 second', 'cu_on_q', '{}', catch_up => true);
	  SELECT mq_create_schedule('cu_off', '1 second', 'cu_off_q', '{}')});
$node->safe_psql('postgres', q{SELECT mq_create_queue('mid_q')});
$node->safe_psql('postgres',
	q{SELECT mq_create_schedule('mid', '1 second', 'mid_q', '{}', catch_up => true);
	  SELECT mq_alter_schedule('mid', paused => true)});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT bool_and(runs >= 2) FROM mq_schedules WHERE schedule IN ('cu_on', 'cu_off')},
		't', 15),
	'catch-up: both run');
my $next = $node->safe_psql('postgres',
	q{SELECT to_char(next_run AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
	    FROM mq_schedules WHERE schedule = 'mid'});
my $holder = QueueTest::session($node);
QueueTest::session_query($holder,
	"BEGIN; SELECT mq_send('mid_q', '{\"holder\": 1}', idempotency_key => 'schedule:mid:$next');");
$node->safe_psql('postgres', q{SELECT mq_alter_schedule('mid', paused => false)});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type = 'queue worker' AND wait_event_type = 'Lock'}, '1', 20),
	'mid: the run waits in the middle of its transaction');
my $stopped = QueueTest::server_time($node);
$node->stop('immediate');
QueueTest::session_close($holder);
sleep 4;
$node->start;
my $started = QueueTest::server_time($node);
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT runs >= 3 FROM mq_schedules WHERE schedule = 'mid'}, 't', 30),
	'mid: runs after the restart');
my ($mid_runs, @mid) = runs_and_times($node, 'mid', 'mid_q');
is(every_time_once(1, @mid), '', 'mid: every second from the interrupted run on, each once');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq_peek('mid_q', 10000)
		  WHERE headers->'mq_schedule'->>'at' = '$next'"),
	'1', 'mid: the interrupted time was sent once, after the restart');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM mq_peek('mid_q', 10000) WHERE body ? 'holder'}),
	'0', 'mid: the open transaction left nothing');
is($mid_runs, scalar(@mid), 'mid: runs counts the messages');
$node->safe_psql('postgres', q{SELECT mq_drop_schedule('mid')});

ok(defined QueueTest::poll_until($node, 'postgres',
		"SELECT bool_and(last_run > to_timestamp($started + 1))
		   FROM mq_schedules WHERE schedule IN ('cu_on', 'cu_off')", 't', 20),
	'catch-up: both run after the restart');
my @on = times_of($node, 'cu_on_q');
is(every_time_once(1, @on), '', 'catch_up: every second, also those of the downtime, each once');
my @off = times_of($node, 'cu_off_q');
my @missed = grep { $_ > $stopped + 1 && $_ < $started - 1 } @off;
my @missed_on = grep { $_ > $stopped + 1 && $_ < $started - 1 } @on;
cmp_ok(scalar(@missed_on), '>=', 2, 'catch_up: the downtime had missed times');
is(scalar(@missed), 0, 'no catch_up: none of the times well inside the downtime');
my %seen;
is(scalar(grep { $seen{$_}++ } @off), 0, 'no catch_up: no time twice');
my ($first_after) = grep { $_ > $stopped + 1 } @off;
cmp_ok($first_after, '>=', int($started) - 1,
	'no catch_up: the first run after the restart is for the latest missed time');
$node->safe_psql('postgres',
	q{SELECT mq_drop_schedule('cu_on'); SELECT mq_drop_schedule('cu_off')});

# ---------------------------------------------------------------------
# A revoked privilege: last_error, times skipped; the grant back: it goes on.
# ---------------------------------------------------------------------
$node->safe_psql('postgres',
	q{CREATE ROLE mq_sched_role;
	  SELECT mq_create_queue('priv_q');
	  SELECT mq_grant('priv_q', 'mq_sched_role', '{send}');
	  SET ROLE mq_sched_role;
	  SELECT mq_create_schedule('priv', '1 second', 'priv_q', '{}');
	  RESET ROLE;});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT runs > 0 AND owner::text = 'mq_sched_role' FROM mq_schedules WHERE schedule = 'priv'},
		't', 15),
	'privilege: runs as its owner');
$node->safe_psql('postgres', q{SELECT mq_revoke('priv_q', 'mq_sched_role')});
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT last_error LIKE '%permission denied%42501%' FROM mq_schedules WHERE schedule = 'priv'},
		't', 15),
	'privilege: revoked, the run records last_error');
my $runs = runs_of($node, 'priv');
my $count = $node->safe_psql('postgres', q{SELECT count(*) FROM mq_peek('priv_q', 10000)});
sleep 2;
is(runs_of($node, 'priv'), $runs, 'privilege: no run while revoked');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mq_peek('priv_q', 10000)}),
	$count, 'privilege: no message while revoked');
is($node->safe_psql('postgres',
		q{SELECT next_run > clock_timestamp() - interval '2 seconds' FROM mq_schedules WHERE schedule = 'priv'}),
	't', 'privilege: the failed times are skipped');
$node->safe_psql('postgres', q{SELECT mq_grant('priv_q', 'mq_sched_role', '{send}')});
ok(defined QueueTest::poll_until($node, 'postgres',
		"SELECT runs > $runs AND last_error IS NULL FROM mq_schedules WHERE schedule = 'priv'",
		't', 15),
	'privilege: granted again, it goes on and last_error clears');
$node->safe_psql('postgres',
	q{SELECT mq_drop_schedule('priv'); SELECT mq_drop_queue('priv_q'); DROP ROLE mq_sched_role});

# ---------------------------------------------------------------------
# 10 000 schedules due at the same time: every 10 seconds, all created
# between two of their times (each is due first at the next multiple of
# 10 seconds after its creation).
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{SELECT mq_create_queue('tick')});
# At least 7 seconds away, and not at a whole minute, when the other
# node's per-minute schedule runs.
my $due;
for (1 .. 3)
{
	my $now = QueueTest::server_time($node);
	$due = 10 * (int($now / 10) + 1);
	last if $due - $now >= 7 && $due % 60 != 0;
	Time::HiRes::sleep($due - $now + 0.2);
}
$node->safe_psql('postgres',
	"SELECT count(mq_create_schedule('tick_' || i, '10 seconds', 'tick',
	                                 jsonb_build_object('i', i)))
	   FROM generate_series(1, 10000) i");
cmp_ok(QueueTest::server_time($node), '<', $due, '10 000 schedules made before their first time');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mq_schedules WHERE schedule LIKE 'tick\_%'}),
	'10000', '10 000 schedules');
my $wait = $due - QueueTest::server_time($node) + 30;
ok(defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) FROM mq_peek('tick', 10000)
		  WHERE (headers->'mq_schedule'->>'at')::timestamptz = to_timestamp($due)",
		'10000', $wait),
	'10 000 schedules: all fire');
my ($distinct, $at_ok, $p50, $p99, $max) = split /\|/, $node->safe_psql('postgres',
	"WITH m AS (SELECT body, (headers->'mq_schedule'->>'at')::timestamptz AS at, enqueued_at
	              FROM mq_peek('tick', 10000)
	             WHERE (headers->'mq_schedule'->>'at')::timestamptz = to_timestamp($due)),
	      l AS (SELECT extract(epoch FROM enqueued_at - at) AS lag FROM m)
	 SELECT (SELECT count(DISTINCT body) FROM m),
	        (SELECT bool_and(at = to_timestamp($due)) FROM m),
	        round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)::numeric, 3),
	        round(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 3),
	        round(max(lag)::numeric, 3)
	   FROM l");
is($distinct, '10000', '10 000 schedules: each once');
is($at_ok, 't', '10 000 schedules: each for that time');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq_schedules WHERE schedule LIKE 'tick\\_%'
		    AND last_run >= to_timestamp($due) AND runs = extract(epoch FROM last_run - to_timestamp($due)) / 10 + 1"),
	'10000', '10 000 schedules: one run each time');
diag("10 000 schedules due at once: lag p50 ${p50} s, p99 ${p99} s, max ${max} s");
$node->safe_psql('postgres', q{SELECT mq_drop_queue('tick')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM mq_schedules WHERE schedule LIKE 'tick\_%'}),
	'0', 'dropping the target dropped its schedules');

# ---------------------------------------------------------------------
# The per-minute schedule made at the start.
# ---------------------------------------------------------------------
ok(defined QueueTest::poll_until($quiet, 'postgres',
		q{SELECT count(*) > 0 FROM mq_peek('minute_q', 10000)}, 't',
		$minute_created + 70 - QueueTest::server_time($quiet)),
	'minute: a run');
my @minutes = times_of($quiet, 'minute_q');
is(every_time_once(60, @minutes), '', 'minute: every minute from the first run on, each once');
is($minutes[0] % 60, 0, 'minute: at whole minutes');
is($quiet->safe_psql('postgres',
		q{SELECT bool_and(enqueued_at - (headers->'mq_schedule'->>'at')::timestamptz < '1.5 seconds')
		    FROM mq_peek('minute_q', 10000)}),
	't', 'minute: each run within a naptime (and half a second) of its time');
$quiet->stop;

# ---------------------------------------------------------------------
# Failover to a standby: the promoted standby goes on where the primary
# stopped, every time once.
# ---------------------------------------------------------------------
target_queue($node, 'fo_q');
$node->safe_psql('postgres',
	q{SELECT mq_create_schedule('fo', '1 second', 'fo_q', '{}', catch_up => true)});
my $standby = QueueTest::new_standby($node, 'sched_standby');
ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT runs >= 3 FROM mq_schedules WHERE schedule = 'fo'}, 't', 15),
	'failover: running on the primary');
is(scalar(QueueTest::queue_workers($standby)), 0, 'failover: the standby fires nothing');
$node->stop('immediate');
$standby->promote;
ok(defined((QueueTest::wait_for_worker($standby, 'postgres', 30))[0]),
	'failover: a worker serves the promoted standby');
my $promoted = QueueTest::server_time($standby);
ok(defined QueueTest::poll_until($standby, 'postgres',
		"SELECT last_run > to_timestamp($promoted + 1) FROM mq_schedules WHERE schedule = 'fo'",
		't', 20),
	'failover: runs on the promoted standby');
my @fo = times_of($standby, 'fo_q');
is(every_time_once(1, @fo), '', 'failover: every second from the first run on, each once');
is(runs_of($standby, 'fo'), scalar(@fo), 'failover: runs counts the messages');

$standby->stop;
done_testing();
