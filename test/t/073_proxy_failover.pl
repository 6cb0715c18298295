# High availability of a shard (SPEC section 11): shard 0 is a primary with
# a synchronous standby managed by pg_auto_failover (a monitor and two
# keepers), shard 1 a plain server, and a proxy reaches shard 0 through a
# multi-host connection string (target_session_attrs=read-write).
#
# A producer sends, appends and publishes through the proxy, each with an
# idempotency key, and starts again a few steps back whenever a call fails
# (calls through the proxy are at-least-once).  Under that load the
# primary is lost (its keeper killed, its server stopped with an immediate
# shutdown); the monitor promotes the standby and the proxy reaches it on
# its own.  Then: no send, append or publish the producer saw commit is
# lost, none is there twice, a receipt of the old primary is unknown on the
# new one, and the background worker serves the new primary.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util ();
use POSIX ();
use Time::HiRes qw(time usleep);

QueueTest::skip_without_plproxy();
QueueTest::skip_without_autofailover();

my $dir = PostgreSQL::Test::Utils::tempdir;
my $sockets = PostgreSQL::Test::Utils::tempdir_short;
my %env = (XDG_CONFIG_HOME => "$dir/config", XDG_DATA_HOME => "$dir/data", PGHOST => $sockets);
my @port = map { PostgreSQL::Test::Cluster::get_free_port() } 0 .. 2;
my %keeper;

sub autoctl
{
	my (@args) = @_;
	local @ENV{ keys %env } = values %env;
	my ($out, $err);
	IPC::Run::run([ 'pg_autoctl', @args ], '>', \$out, '2>', \$err)
	  or die "pg_autoctl @args failed: $err";
	return $out;
}

# SIGKILL a keeper and the processes it started (its children are named
# "pg_autoctl: ...", without the data directory).
sub keeper_kill
{
	my ($name) = @_;
	my $pid = $keeper{$name}{KIDS}[0]{PID};
	IPC::Run::run([ 'pkill', '-9', '-P', $pid ]) if $pid;
	$keeper{$name}->kill_kill;
	delete $keeper{$name};
	return;
}

# An immediate shutdown of a node's server.
sub node_stop
{
	my ($name) = @_;
	IPC::Run::run([ 'pg_ctl', '-D', "$dir/$name", '-m', 'immediate', 'stop' ], '>', '/dev/null', '2>', '/dev/null');
	return;
}

# pg_autoctl run in the background for a node's data directory, in a
# session of its own (a keeper that stops signals its process group).
sub keeper_start
{
	my ($name) = @_;
	local @ENV{ keys %env } = values %env;
	$keeper{$name} = IPC::Run::start([ 'pg_autoctl', 'run', '--pgdata', "$dir/$name" ],
		init => sub { POSIX::setsid() }, '>', "$dir/$name.log", '2>&1');
	return;
}

sub sql_at
{
	my ($port, $sql, $db) = @_;
	my $out;
	IPC::Run::run([ 'psql', '-X', '-At', '-h', '127.0.0.1', '-p', $port, '-d', $db // 'postgres', '-c', $sql ],
		'>', \$out, '2>', \my $err);
	chomp $out if defined $out;
	return $out // '';
}

# A data directory for pg_autoctl to take over, with its sockets in a
# directory of the test's own (pg_autoctl reaches the server through
# PGHOST, and does not set unix_socket_directories itself).
sub initdb
{
	my ($name, @conf) = @_;
	my $err;
	IPC::Run::run([ 'initdb', '-D', "$dir/$name", '--auth=trust', '-N' ], '>', '/dev/null', '2>', \$err)
	  or die "initdb $name failed: $err";
	PostgreSQL::Test::Utils::append_to_file("$dir/$name/postgresql.conf",
		join('', map { "$_\n" } "unix_socket_directories = '$sockets'", @conf));
	return;
}

# The monitor, with checks fast enough for a test: a lost primary is
# noticed within seconds and its standby promoted three seconds later.
initdb('monitor');
autoctl('create', 'monitor', '--pgdata', "$dir/monitor", '--pgport', $port[0],
	'--hostname', '127.0.0.1', '--listen', '127.0.0.1', '--auth', 'trust', '--no-ssl');
keeper_start('monitor');
my $monitor = "postgres://autoctl_node\@127.0.0.1:$port[0]/pg_auto_failover?sslmode=disable";
for (1 .. 100) { last if sql_at($port[0], 'SELECT 1') eq '1'; usleep(100_000); }
my @tuning = (
	'health_check_period = 1000', 'health_check_timeout = 1000',
	'health_check_retry_delay = 500', 'health_check_max_retries = 1',
	'node_considered_unhealthy_timeout = 2000', 'primary_demote_timeout = 3000');
IPC::Run::run([ 'psql', '-X', '-q', '-h', '127.0.0.1', '-p', $port[0], '-d', 'pg_auto_failover',
	(map { ('-c', "ALTER SYSTEM SET pgautofailover.$_") } @tuning), '-c', 'SELECT pg_reload_conf()' ]);

# The two keepers of shard 0: "a" the primary, "b" its standby, the queue
# library preloaded (the standby's copy of the configuration has it too).
for my $i (1, 2)
{
	my $name = $i == 1 ? 'a' : 'b';
	initdb($name, "shared_preload_libraries = 'queue'") if $name eq 'a';
	autoctl('create', 'postgres', '--pgdata', "$dir/$name", '--pgport', $port[$i],
		'--hostname', '127.0.0.1', '--listen', '127.0.0.1', '--auth', 'trust', '--no-ssl',
		'--monitor', $monitor, '--name', $name);
	keeper_start($name);
	my $want = $name eq 'a' ? qr/^(single|primary|wait_primary)$/ : qr/^secondary$/;
	my $state = '';
	for (1 .. 300)
	{
		$state = sql_at($port[0], "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$name'",
			'pg_auto_failover');
		last if $state =~ $want && ($name eq 'a' || sql_at($port[1], 'SHOW synchronous_standby_names') ne '');
		usleep(100_000);
	}
	like($state, $want, "keeper $name is up ($state)");
}
like(sql_at($port[1], 'SHOW synchronous_standby_names'), qr/pgautofailover_standby/,
	'the primary waits for its standby on commit');
is(sql_at($port[1], 'SELECT count(*) FROM pg_extension WHERE extname = \'queue\'') . '',
	'0', 'no extension yet');
sql_at($port[1], 'CREATE EXTENSION queue');

# The proxy: shard 0 through both hosts, shard 1 a plain node.
my $shard1 = QueueTest::new_node('ha_shard1');
my $proxy = QueueTest::new_node('ha_proxy', preload => 0, extension => 0);
my $p0 = "host=127.0.0.1,127.0.0.1 port=$port[1],$port[2] dbname=postgres "
  . 'target_session_attrs=read-write connect_timeout=2';
$proxy->safe_psql('postgres', qq{
	CREATE EXTENSION queue_proxy CASCADE;
	CREATE SERVER queue FOREIGN DATA WRAPPER plproxy
	    OPTIONS (p0 '$p0', p1 '@{[ QueueTest::shard_conninfo($shard1) ]}');
	CREATE USER MAPPING FOR PUBLIC SERVER queue;
});
sub px { return $proxy->safe_psql('postgres', $_[0]); }

# A queue, a stream and a subscribed queue on shard 0.
my @on0 = grep { px("SELECT mq_shard_of('$_')") == 0 } map { "ha$_" } 0 .. 40;
my ($q, $s, $sub) = @on0[0 .. 2];
px("SELECT mq_create_queue('$q'); SELECT mq_create_stream('$s'); SELECT mq_create_queue('$sub');
    SELECT mq_create_topic('ha_events'); SELECT mq_subscribe('ha_events', '$sub')");
is(sql_at($port[1], "SELECT count(*) FROM mq_queues WHERE queue IN ('$q', '$sub')"), '2',
	'the objects are on shard 0\'s primary');

# A receipt of the old primary, to ack after the failover.
px("SELECT mq_send('$q', '{\"old\": true}')");
my $old_receipt = px("SELECT receipt FROM mq_read('$q', 1, '1 hour')");

# The producer: step i sends order i, appends it and publishes it, each
# with the key i; it echoes "c i" once the three have returned.
my $per_script = 2000;
my $from = 1;
my $last = 0;
my @committed;    # steps seen committed, per run of the script
sub producer_script
{
	my $script = '';
	for my $i ($from .. $from + $per_script - 1)
	{
		$script .= QueueTest::pool_stop_check('producer')
		  . "SELECT mq_send('$q', '{\"n\": $i}', idempotency_key => '$i') IS NOT NULL AS ok \\gset\n"
		  . "SELECT count(*) > 0 AS ok FROM mq_append('$s', '{\"n\": $i}', idempotency_key => '$i') \\gset\n"
		  . "SELECT mq_publish('ha_events', 'k', '{\"n\": $i}', idempotency_key => '$i') IS NOT NULL AS ok \\gset\n"
		  . "\\echo c $i\n";
	}
	return $script;
}
my $pool = QueueTest::pool_new(
	$proxy, $dir,
	producers => ['p'],
	producer_script => sub { return producer_script(); },
	producer_ended => sub {
		my @steps = $_[1] =~ /^c (\d+)$/mg;
		push @committed, scalar @steps;
		return unless @steps;
		$last = $steps[-1] if $steps[-1] > $last;
		$from = $steps[-1] - 2 if $steps[-1] - 2 > $from;
	});

sub load
{
	my ($seconds) = @_;
	my $end = time + $seconds;
	while (time < $end) { QueueTest::pool_supervise($pool); usleep(100_000); }
	return;
}
load(2);

# The primary is lost: its keeper killed, its server stopped at once.
my $t0 = time;
keeper_kill('a');
node_stop('a');
my $promoted = 0;
for (1 .. 600)
{
	QueueTest::pool_supervise($pool);
	# Promoted, and past the read-only stop_replication state.
	$promoted = sql_at($port[2], q{SELECT NOT pg_is_in_recovery() AND NOT current_setting('transaction_read_only')::bool})
	  eq 't';
	last if $promoted;
	usleep(100_000);
}
ok($promoted, 'the standby is promoted and takes writes');
note sprintf('writable %.1f s after the primary was lost', time - $t0);
load(3);
is(join(',', QueueTest::pool_stop($pool, 'producer')), '', 'producer stopped');
# The first run is the one the loss of the primary cut short.
cmp_ok($committed[0], '>', 0, 'the producer committed steps before the failover');
cmp_ok(QueueTest::pool_error_count($pool, 'producer', 'XX000'), '>', 0, 'the failover failed calls');
cmp_ok(List::Util::sum(@committed[ 1 .. $#committed ]), '>', 0, 'and it committed steps after it');
# The step after the last one seen may have committed unseen: again.
px("SELECT mq_send('$q', '{\"n\": @{[ $last + 1 ]}}', idempotency_key => '@{[ $last + 1 ]}');
    SELECT count(*) FROM mq_append('$s', '{\"n\": @{[ $last + 1 ]}}', idempotency_key => '@{[ $last + 1 ]}');
    SELECT mq_publish('ha_events', 'k', '{\"n\": @{[ $last + 1 ]}}', idempotency_key => '@{[ $last + 1 ]}')");

# Nothing the producer saw commit is lost, and nothing is there twice.
my $n = $last + 1;
my $check = qq{SELECT count(*) FILTER (WHERE c = 1) || '/' || count(*) FILTER (WHERE c > 1)
	  FROM (SELECT i, count(m.n) AS c FROM generate_series(1, $n) i
	        LEFT JOIN (%s) m (n) ON m.n = i GROUP BY i) x};
is(px(sprintf($check, "SELECT (body->>'n')::int FROM mq_inspect('$q', qty => 10000)")), "$n/0",
	'every send seen committed is on the new primary, once');
is(px(sprintf($check, "SELECT (body->>'n')::int FROM mq_stream_read('$s', 0, 0, 10000)")), "$n/0",
	'every append seen committed, once');
is(px(sprintf($check, "SELECT (body->>'n')::int FROM mq_inspect('$sub', qty => 10000)")), "$n/0",
	'every publish seen committed, once');
# The lease of the old primary is gone with it: the message is delivered
# again, and only the new receipt acks it.
my ($again, $new_receipt) = split /\|/,
  px("SELECT body->>'old', receipt FROM mq_read('$q', 1, '1 hour')");
is($again, 'true', 'the message leased on the old primary is delivered again');
is(px("SELECT mq_ack('$q', $old_receipt, strict => false)"), 'f',
	'a receipt of the old primary does not ack it');
is(px("SELECT mq_ack('$q', $new_receipt)"), 't', 'the new receipt does');
my $worker = '';
for (1 .. 100)
{
	$worker = sql_at($port[2], q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue worker'});
	last if $worker eq '1';
	usleep(100_000);
}
is($worker, '1', 'the background worker serves the new primary');

done_testing();

# The keepers run in sessions of their own: stop them and their servers
# however the test ends.
END
{
	local $?;
	keeper_kill($_) for grep { $keeper{$_} } qw(a b monitor);
	node_stop($_) for grep { -d "$dir/$_" } qw(a b monitor);
}
