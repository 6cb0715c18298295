# Helpers shared by the TAP tests of the queue extension.
#
#   new_node($name, %opts)       a started node, library preloaded, extension
#                                created in database "postgres"
#   storage_table($node, $queue) the storage table of a queue, "mq.q_<id>"
#   sql_error($node, $sql)       run SQL that should fail; (SQLSTATE, stderr)
#   crash_backend($node, $pid)   SIGKILL one backend and wait until the
#                                postmaster has reinitialised and recovered
#   restart($node, $how)         'fast' or 'immediate' shutdown and start,
#                                or 'crash' (crash_backend)
#   psql_script($node, $file, $out, $err, %opts)
#                                run a psql script in the background, its
#                                output going to files (no pumping needed)
#   finished($run)               true once such a script has ended
#   session($node)               a background psql session that goes on
#                                after errors and prints SQLSTATEs
#   session_query($s, $sql)      (stdout, stderr, SQLSTATE) of one query
#   session_pid($s)              the backend pid of a session
#   session_close($s)            end a session, even one whose backend died
#   proxy_cluster($n, %opts)     a proxy node (queue_proxy) over $n shard
#                                nodes (queue): ($proxy, [ shards ])
#   skip_without_plproxy()       skip the whole test where Debian has no
#                                PL/Proxy for the version (19, for now)
package QueueTest;

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;

# Options:
#   preload => 0           leave shared_preload_libraries alone
#   extension => 0         do not CREATE EXTENSION queue
#   conf => [ lines ]      more postgresql.conf lines
#   restart_after_crash => 1
#                          let the postmaster reinitialise after a backend
#                          crash (PostgreSQL::Test::Cluster turns it off)
sub new_node
{
	my ($name, %opts) = @_;
	my $preload = exists $opts{preload} ? $opts{preload} : 1;
	my $extension = exists $opts{extension} ? $opts{extension} : $preload;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'queue'") if $preload;
	$node->append_conf('postgresql.conf', "max_prepared_transactions = 10");
	$node->append_conf('postgresql.conf', "restart_after_crash = on")
	  if $opts{restart_after_crash};
	$node->append_conf('postgresql.conf', $_) for @{ $opts{conf} || [] };
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION queue') if $extension;
	return $node;
}

# A sharded cluster (SPEC section 11): $n shard nodes named <prefix><i>
# with the extension, and a node <prefix>_proxy whose database postgres has
# queue_proxy and the foreign server "queue" over the shards' databases
# postgres (modular_mapping when $n is not a power of two), with a user
# mapping for everyone.  Options: prefix (default "shard"), conf and
# restart_after_crash (for the shards, as new_node's).
sub proxy_cluster
{
	my ($n, %opts) = @_;
	my $prefix = $opts{prefix} // 'shard';
	my @shards = map {
		new_node("$prefix$_", conf => $opts{conf}, restart_after_crash => $opts{restart_after_crash})
	} 0 .. $n - 1;
	my $proxy = new_node("${prefix}_proxy", preload => 0, extension => 0);
	my $options = join(', ',
		($n & ($n - 1)) ? ("modular_mapping '1'") : (),
		map { "p$_ '" . shard_conninfo($shards[$_]) . "'" } 0 .. $n - 1);
	$proxy->safe_psql('postgres', qq{
		CREATE EXTENSION queue_proxy CASCADE;
		CREATE SERVER queue FOREIGN DATA WRAPPER plproxy OPTIONS ($options);
		CREATE USER MAPPING FOR PUBLIC SERVER queue;
	});
	return ($proxy, \@shards);
}

# A Debian package the test needs, postgresql-<N>-<package>, which installs
# extension/<control>.control (and, if given, the program $program): where
# Debian has none for the version (19), skip the test with the reason;
# where it should be there and is not, fail.
sub skip_without_package
{
	my ($package, $control, $what, $program) = @_;
	my $sharedir = `pg_config --sharedir`;
	my ($major) = `pg_config --version` =~ /PostgreSQL (\d+)/;
	chomp $sharedir;
	return
	  if -e "$sharedir/extension/$control.control"
	  && (!$program || `which $program` ne '');
	Test::More::plan(skip_all => "Debian has no $what for PostgreSQL $major (no postgresql-$major-$package)")
	  if $major >= 19;
	die "$what is missing: scripts/setup.sh installs postgresql-$major-$package";
}

sub skip_without_plproxy { skip_without_package('plproxy', 'plproxy', 'PL/Proxy'); return; }

sub skip_without_autofailover
{
	skip_without_package('auto-failover', 'pgautofailover', 'pg_auto_failover', 'pg_autoctl');
	return;
}

# Run a command without a shell: (whether it succeeded, its stdout and
# stderr together).
sub run_command
{
	my @cmd = @_;
	my ($out, $err) = ('', '');
	my $ok = eval { IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err) };
	return ($ok, $out . $err);
}

# Node.js and npm, for the tests of the Node clients and the console: the
# node program, or skip the test with the reason.
sub require_node
{
	my ($nodejs) = grep { (run_command($_, '--version'))[0] } ('/usr/bin/node', 'node');
	Test::More::plan(skip_all => 'Node.js is not installed (Debian: nodejs)') unless $nodejs;
	Test::More::plan(skip_all => 'npm is not installed (Debian: npm)')
	  unless (run_command('npm', '--version'))[0];
	return $nodejs;
}

# npm ci in $dir from its lock file, with npm's home and cache under $home.
sub npm_ci
{
	my ($dir, $home) = @_;
	local $ENV{HOME} = $home;
	local $ENV{npm_config_cache} = "$home/npm-cache";
	my ($ok, $out) = run_command('npm', 'ci', '--prefix', $dir, '--no-audit', '--no-fund',
		'--loglevel=error', '--fetch-timeout=60000', '--fetch-retries=2');
	die "npm ci in $dir failed:\n$out" unless $ok;
	return;
}

# The libpq connection string of a node's database postgres.
sub shard_conninfo
{
	my ($node) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
}

# The storage table of a queue, schema-qualified.
sub storage_table
{
	my ($node, $queue) = @_;
	my $id = $node->safe_psql('postgres',
		"SELECT id FROM mq.objects WHERE name = '$queue' AND kind = 'q'");
	die "no queue named $queue" if $id eq '';
	return "mq.q_$id";
}

# Run SQL that is expected to fail, with VERBOSITY verbose so that the
# SQLSTATE is printed.  Returns the SQLSTATE ('' if the SQL succeeded) and
# psql's stderr.
sub sql_error
{
	my ($node, $sql) = @_;
	my ($out, $err);

	$node->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	my ($state) = $err =~ /(?:ERROR|FATAL):\s+([0-9A-Z]{5}):/;
	return ($state // '', $err);
}

# SIGKILL a backend (a fresh idle one when no pid is given) and wait until
# the postmaster has killed every other backend, reinitialised shared memory
# and finished crash recovery.  The node needs restart_after_crash = on.
# With may_be_gone, a backend that has exited meanwhile is no error: returns
# 0 then, 1 after a crash.
sub crash_backend
{
	my ($node, $pid, $may_be_gone) = @_;
	my $victim;
	my $offset = -s $node->logfile;

	if (!defined $pid)
	{
		$victim = $node->background_psql('postgres', on_error_stop => 0);
		$pid = $victim->query_safe('SELECT pg_backend_pid()');
	}
	if (!kill 'KILL', $pid)
	{
		return 0 if $may_be_gone;
		die "cannot kill backend $pid: $!";
	}
	$node->wait_for_log(
		qr/(?:server process|client backend) \(PID $pid\) was terminated by signal 9/,
		$offset);
	$node->wait_for_log(qr/database system is ready to accept connections/,
		$offset);
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die "server did not come back after the crash";
	session_close($victim) if $victim;
	return 1;
}

# Wait until the WAL written so far is flushed (by the WAL writer, or by
# anyone's commit).
sub wait_for_wal_flush
{
	my ($node) = @_;
	my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
	$node->poll_query_until('postgres',
		"SELECT pg_current_wal_flush_lsn() >= '$lsn'::pg_lsn")
	  or die "the WAL up to $lsn was not flushed";
	return;
}

# Restart a node: 'fast' or 'immediate' stop and start, or 'crash': a
# backend killed with SIGKILL, so that the postmaster reinitialises (the
# node needs restart_after_crash = on).
sub restart
{
	my ($node, $how) = @_;
	if ($how eq 'crash')
	{
		crash_backend($node);
	}
	else
	{
		$node->stop($how);
		$node->start;
	}
	return;
}

# Start psql on a script file in the background.  Output goes to files so
# that psql never blocks on a full pipe while nobody pumps it.  Options:
#   on_error_stop => 0     go on after SQL errors (psql still exits when
#                          its connection is lost)
sub psql_script
{
	my ($node, $file, $out, $err, %opts) = @_;
	my $stop = exists $opts{on_error_stop} ? $opts{on_error_stop} : 1;
	return IPC::Run::start(
		[
			'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=' . ($stop ? 1 : 0),
			'-d', $node->connstr('postgres'), '-f', $file
		],
		'<', '/dev/null', '>', $out, '2>', $err);
}

# True once a psql_script run has ended (stdin, stdout and stderr are
# files, so no pipe keeps the harness pumpable).
sub finished
{
	my ($run) = @_;
	return !$run->pumpable;
}

# A background psql session that survives SQL errors and prints the
# SQLSTATE of each.
sub session
{
	my ($node) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	$s->query_safe('\\set VERBOSITY verbose');
	return $s;
}

# Run one query in a session: (stdout, stderr, SQLSTATE or '').
sub session_query
{
	my ($s, $sql) = @_;
	my ($out) = $s->query($sql);
	my $err = $s->{stderr};
	$s->{stderr} = '';
	my ($state) = $err =~ /(?:ERROR|FATAL):\s+([0-9A-Z]{5}):/;
	return ($out, $err, $state // '');
}

# The backend pid of a session.
sub session_pid
{
	my ($s) = @_;
	return $s->query_safe('SELECT pg_backend_pid()');
}

# End a session; its backend may be gone already.
sub session_close
{
	my ($s) = @_;
	eval { $s->quit; };
	$s->{run}->kill_kill if $@;
	return;
}

# Helpers for the tests of long polls, the background worker and mq_stats.
#
#   session_start($s, $sql)      send a query to a session without waiting
#   session_done($s)             whether that query has finished
#   session_result($s, $timeout) wait for it: (stdout, stderr, SQLSTATE)
#   poll_until($node, $db, $sql, $expected, $timeout)
#                                run a query until it prints $expected;
#                                the seconds it took, or undef at the timeout
#   wait_until_sleeping($node, @pids)
#                                until every backend of @pids sleeps in a
#                                long poll (wait event Extension)
#   queue_workers($node, $db)    pids of the queue workers serving a
#                                database (of all databases with no $db)
#   queue_launchers($node)       pids of queue launcher processes
#   wait_for_worker($node, $db, $timeout, $old_pid)
#                                a queue worker serving $db (other than
#                                $old_pid): its pid and the seconds it took,
#                                or undef at the timeout
#   reload_settings($node, name => value, ...)
#                                ALTER SYSTEM SET and reload, and wait until
#                                a new session shows every value (give each
#                                value as SHOW prints it)
#   log_wait($node, $re, $offset, $timeout)
#                                until the server log (from $offset) matches
#                                $re: true, or false at the timeout
#   cpu_ticks($pid)              user + system CPU of a process, in clock ticks
#   server_time($node)           the server's clock, epoch seconds
#   new_standby($primary, $name, %opts)
#                                a started streaming standby made from a base
#                                backup of $primary (which needs wal_level
#                                replica and WAL senders); conf => [ lines ]

use Time::HiRes ();

sub session_start
{
	my ($s, $sql) = @_;
	die "a query is still running in this session" if $s->{queue_pending};
	my $banner = 'queue_test: QUERY_DONE ' . $s->{query_cnt}++ . ':';
	$s->{queue_pending} = $banner;
	$s->{stdin} .= "$sql\n;\n\\echo '$banner'\n\\warn '$banner'\n";
	$s->{run}->pump_nb;
	return;
}

sub session_done
{
	my ($s) = @_;
	my $banner = $s->{queue_pending} or die "no query was started";
	$s->{run}->pump_nb;
	return $s->{stdout} =~ /\Q$banner\E\r?\n/
	  && $s->{stderr} =~ /\Q$banner\E\r?\n/;
}

sub session_result
{
	my ($s, $timeout) = @_;
	my $banner = $s->{queue_pending} or die "no query was started";
	my $deadline = Time::HiRes::time()
	  + ($timeout // $PostgreSQL::Test::Utils::timeout_default);
	until (session_done($s))
	{
		die "query did not finish within the timeout"
		  if Time::HiRes::time() > $deadline;
		Time::HiRes::usleep(5_000);
	}
	my ($out, $err) = ($s->{stdout}, $s->{stderr});
	$out =~ s/\r?\n?\Q$banner\E\r?\n//;
	$err =~ s/\Q$banner\E\r?\n//;
	$s->{stdout} = '';
	$s->{stderr} = '';
	delete $s->{queue_pending};
	my ($state) = $err =~ /(?:ERROR|FATAL):\s+([0-9A-Z]{5}):/;
	return ($out, $err, $state // '');
}

sub poll_until
{
	my ($node, $db, $sql, $expected, $timeout) = @_;
	my $start = Time::HiRes::time();
	my $out;
	while (1)
	{
		my ($ret, $stdout, $stderr) = $node->psql($db, $sql);
		$out = $stdout;
		return Time::HiRes::time() - $start
		  if $ret == 0 && $stdout eq $expected;
		last if Time::HiRes::time() - $start > $timeout;
		Time::HiRes::usleep(50_000);
	}
	Test::More::diag("poll_until: after ${timeout}s, $sql\n"
		  . "printed '$out', expected '$expected'");
	return undef;
}

sub wait_until_sleeping
{
	my ($node, @pids) = @_;
	my $list = join ',', @pids;
	return poll_until(
		$node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity
		  WHERE pid IN ($list) AND state = 'active'
		    AND wait_event_type = 'Extension'",
		scalar(@pids), 60);
}

sub queue_workers
{
	my ($node, $db) = @_;
	my $which = defined $db ? "AND datname = '$db'" : '';
	return split /\n/, $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity
		  WHERE backend_type = 'queue worker' $which ORDER BY pid");
}

sub queue_launchers
{
	my ($node) = @_;
	return split /\n/, $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity
		  WHERE backend_type = 'queue launcher' ORDER BY pid");
}

sub wait_for_worker
{
	my ($node, $db, $timeout, $old_pid) = @_;
	my $start = Time::HiRes::time();
	while (Time::HiRes::time() - $start <= $timeout)
	{
		my @pids = grep { !defined $old_pid || $_ != $old_pid }
		  queue_workers($node, $db);
		return ($pids[0], Time::HiRes::time() - $start) if @pids;
		Time::HiRes::usleep(50_000);
	}
	return;
}

sub reload_settings
{
	my ($node, %settings) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $_ = '$settings{$_}'")
	  for sort keys %settings;
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my $names = join ', ', map { "current_setting('$_')" } sort keys %settings;
	my $values = join '|', map { $settings{$_} } sort keys %settings;
	defined poll_until($node, 'postgres', "SELECT $names", $values, 60)
	  or die "settings not in effect after a reload: $values";
	return;
}

sub log_wait
{
	my ($node, $re, $offset, $timeout) = @_;
	my $start = Time::HiRes::time();
	while (1)
	{
		my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset);
		return 1 if $log =~ $re;
		last if Time::HiRes::time() - $start > $timeout;
		Time::HiRes::usleep(50_000);
	}
	Test::More::diag("log_wait: no $re in the log after ${timeout}s");
	return 0;
}

sub cpu_ticks
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or die "cannot read /proc/$pid/stat: $!";
	my $stat = <$fh>;
	close $fh;
	$stat =~ s/^.*\)\s+//s;
	my @fields = split ' ', $stat;
	return $fields[11] + $fields[12];    # utime and stime (fields 14, 15)
}

sub server_time
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		'SELECT extract(epoch FROM clock_timestamp())');
}

sub new_standby
{
	my ($primary, $name, %opts) = @_;
	my $backup = "${name}_base";
	$primary->backup($backup);
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->append_conf('postgresql.conf', $_) for @{ $opts{conf} || [] };
	$standby->start;
	$primary->wait_for_catchup($standby);
	return $standby;
}

# A pool of background psql clients for the tests under load: producers,
# which stop at their first SQL error, and consumers, which go on after
# errors.  Each start of a client (a "generation") runs a script of its
# own, files <name>.<generation>.sql, .out and .err in the pool's
# directory; the script first sets application_name to the client's name
# and VERBOSITY verbose, so that errors carry their SQLSTATE.  The clients
# are told to stop through a table "control" that pool_new creates.
#
#   pool_new($node, $dir, %opts) a pool; options:
#                                producers => [ names ]
#                                consumers => [ names ]
#                                node_of => { name => node }: a client
#                                that runs on another node than $node
#                                producer_script => sub ($name, $gen),
#                                consumer_script => sub ($name, $gen): the
#                                rest of the script of a generation
#                                producer_ended => sub ($name, $stdout):
#                                called with what a producer's run printed,
#                                once it has ended
#   pool_stop_check($role)       script lines that end the script once the
#                                clients of $role ('producer' or 'consumer')
#                                are told to stop
#   pool_start($pool, $name)     start a client's next generation
#   pool_reap($pool, $name)      collect a run that has ended and count its
#                                SQL errors by role and SQLSTATE
#   pool_supervise($pool)        reap each client that has ended and start
#                                it again unless it was told to stop;
#                                $pool->{restarts} counts the clients
#                                started again
#   pool_reap_all($pool, $timeout)
#                                wait up to $timeout seconds in all for the
#                                running clients to end (as they do when the
#                                server goes away), kill those left, reap
#   pool_stop($pool, $role)      tell the clients of a role to stop and
#                                supervise for up to a minute until they
#                                have: the names of those still running
#   pool_errors($pool, $role, @except)
#                                the role's SQL errors, "<SQLSTATE> x <count>"
#                                joined by ", ", but those in @except
#   pool_error_count($pool, $role, $state)
#                                how many errors $state the role's runs that
#                                ended had
#   pool_error_seen($pool, $role, $state)
#                                whether a client of the role hit $state, in
#                                a run that ended or in one still running

sub pool_new
{
	my ($node, $dir, %opts) = @_;
	my %clients;
	my $node_of = $opts{node_of} || {};
	$clients{$_} = { role => 'producer', gen => 0 } for @{ $opts{producers} || [] };
	$clients{$_} = { role => 'consumer', gen => 0 } for @{ $opts{consumers} || [] };
	my %nodes = map { $_->name => $_ } ($node, values %$node_of);
	$_->safe_psql(
		'postgres', q{
		CREATE TABLE control (stop_producers bool NOT NULL, stop_consumers bool NOT NULL);
		INSERT INTO control VALUES (false, false);
	}) for values %nodes;
	return {
		node => $node,
		node_of => $node_of,
		nodes => [ values %nodes ],
		dir => $dir,
		script => {
			producer => $opts{producer_script},
			consumer => $opts{consumer_script}
		},
		ended => { producer => $opts{producer_ended} },
		clients => \%clients,
		errors => {},    # role => SQLSTATE => count
		restarts => 0
	};
}

sub pool_stop_check
{
	my ($role) = @_;
	return "SELECT stop_${role}s AS stop FROM control \\gset\n\\if :stop\n\\q\n\\endif\n";
}

sub pool_start
{
	my ($pool, $name) = @_;
	my $c = $pool->{clients}{$name};
	$c->{gen}++;
	my $file = "$pool->{dir}/$name.$c->{gen}";
	PostgreSQL::Test::Utils::append_to_file("$file.sql",
		"SET application_name = '$name';\n\\set VERBOSITY verbose\n"
		  . $pool->{script}{ $c->{role} }->($name, $c->{gen}));
	@$c{qw(out err)} = ("$file.out", "$file.err");
	$c->{run} = psql_script($pool->{node_of}{$name} // $pool->{node}, "$file.sql", $c->{out}, $c->{err},
		on_error_stop => $c->{role} eq 'producer');
	return;
}

sub pool_reap
{
	my ($pool, $name) = @_;
	my $c = $pool->{clients}{$name};
	$c->{run}->finish;
	my $ended = $pool->{ended}{ $c->{role} };
	$ended->($name, PostgreSQL::Test::Utils::slurp_file($c->{out})) if $ended;
	for my $state (PostgreSQL::Test::Utils::slurp_file($c->{err})
		=~ /ERROR:\s+([0-9A-Z]{5}):/g)
	{
		$pool->{errors}{ $c->{role} }{$state}++;
	}
	$c->{run} = undef;
	return;
}

sub pool_supervise
{
	my ($pool) = @_;
	for my $name (sort keys %{ $pool->{clients} })
	{
		my $c = $pool->{clients}{$name};
		next if $c->{run} && !finished($c->{run});
		if ($c->{run})
		{
			pool_reap($pool, $name);
			$pool->{restarts}++;
		}
		pool_start($pool, $name) unless $c->{stopped};
	}
	return;
}

sub pool_reap_all
{
	my ($pool, $timeout) = @_;
	my $deadline = Time::HiRes::time() + $timeout;
	for my $name (sort keys %{ $pool->{clients} })
	{
		my $c = $pool->{clients}{$name};
		next unless $c->{run};
		Time::HiRes::usleep(50_000)
		  while !finished($c->{run}) && Time::HiRes::time() < $deadline;
		$c->{run}->kill_kill unless finished($c->{run});
		pool_reap($pool, $name);
	}
	return;
}

sub pool_stop
{
	my ($pool, $role) = @_;
	my @names = grep { $pool->{clients}{$_}{role} eq $role }
	  sort keys %{ $pool->{clients} };
	$_->safe_psql('postgres', "UPDATE control SET stop_${role}s = true") for @{ $pool->{nodes} };
	$pool->{clients}{$_}{stopped} = 1 for @names;
	for (1 .. 600)
	{
		pool_supervise($pool);
		last unless grep { $pool->{clients}{$_}{run} } @names;
		Time::HiRes::usleep(100_000);
	}
	return grep { $pool->{clients}{$_}{run} } @names;
}

sub pool_errors
{
	my ($pool, $role, @except) = @_;
	my $errors = $pool->{errors}{$role} || {};
	my %skip = map { $_ => 1 } @except;
	return join ', ',
	  map { "$_ x $errors->{$_}" } grep { !$skip{$_} } sort keys %$errors;
}

sub pool_error_count
{
	my ($pool, $role, $state) = @_;
	return ($pool->{errors}{$role} || {})->{$state} // 0;
}

sub pool_error_seen
{
	my ($pool, $role, $state) = @_;
	return 1 if pool_error_count($pool, $role, $state);
	for my $c (values %{ $pool->{clients} })
	{
		next unless $c->{role} eq $role && $c->{run} && -e $c->{err};
		return 1
		  if PostgreSQL::Test::Utils::slurp_file($c->{err}) =~ /ERROR:\s+\Q$state\E:/;
	}
	return 0;
}

1;
