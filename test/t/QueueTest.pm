# Helpers shared by the TAP tests of the queue extension.
#
#   new_node($name, %opts)       a started node, library preloaded, extension
#                                created in database "postgres"
#   storage_table($node, $queue) the storage table of a queue, "mq.q_<id>"
#   sql_error($node, $sql)       run SQL that should fail; (SQLSTATE, stderr)
#   crash_backend($node, $pid)   SIGKILL one backend and wait until the
#                                postmaster has reinitialised and recovered
#   psql_script($node, $file, $out, $err)
#                                run a psql script in the background, its
#                                output going to files (no pumping needed)
#   session($node)               a background psql session that goes on
#                                after errors and prints SQLSTATEs
#   session_query($s, $sql)      (stdout, stderr, SQLSTATE) of one query
#   session_close($s)            end a session, even one whose backend died
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
sub crash_backend
{
	my ($node, $pid) = @_;
	my $victim;
	my $offset = -s $node->logfile;

	if (!defined $pid)
	{
		$victim = $node->background_psql('postgres', on_error_stop => 0);
		$pid = $victim->query_safe('SELECT pg_backend_pid()');
	}
	kill 'KILL', $pid or die "cannot kill backend $pid: $!";
	$node->wait_for_log(qr/server process \(PID $pid\) was terminated by signal 9/,
		$offset);
	$node->wait_for_log(qr/database system is ready to accept connections/,
		$offset);
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die "server did not come back after the crash";
	session_close($victim) if $victim;
	return;
}

# Start psql on a script file in the background.  Output goes to files so
# that psql never blocks on a full pipe while nobody pumps it.
sub psql_script
{
	my ($node, $file, $out, $err) = @_;
	return IPC::Run::start(
		[
			'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres'), '-f', $file
		],
		'<', \undef, '>', $out, '2>', $err);
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

# End a session; its backend may be gone already.
sub session_close
{
	my ($s) = @_;
	eval { $s->quit; };
	$s->{run}->kill_kill if $@;
	return;
}

1;
