# The launcher and the databases.  A database where CREATE EXTENSION queue
# commits is served within about a second, without a restart; its worker
# goes away when the extension is dropped.  DROP DATABASE, CREATE DATABASE
# ... TEMPLATE and ALTER DATABASE ... RENAME of a served database succeed at
# once without FORCE: the worker steps aside, stays away for
# queue.step_aside_interval (30 s by default, 12 s here), then serves the
# database again.  At most queue.max_workers workers run at a
# time; when more databases need one, they take turns and every database is
# served.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $away_for = 12;
my $node = QueueTest::new_node('databases', conf => ["queue.step_aside_interval = ${away_for}s"]);

sub sql { my ($n, $sql, $db) = @_; return $n->safe_psql($db // 'postgres', $sql); }

# Send a message with a TTL of 1 s in a database.
sub send_expiring
{
	my ($n, $db) = @_;
	sql($n, q{SELECT mq_create_queue('ttl', message_ttl => '1 second', if_not_exists => true);
	          SELECT mq_send('ttl', '{}')}, $db);
	return;
}

# Wait until the expiring messages of a database are gone.
sub expired_within
{
	my ($n, $db, $timeout) = @_;
	return QueueTest::poll_until($n, $db,
		"SELECT depth FROM mq_queues WHERE queue = 'ttl'", '0', $timeout);
}

# Run a command in psql and time it: (seconds, exit code, stderr).
sub timed
{
	my ($sql) = @_;
	my $t0 = time;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return (time - $t0, $ret, $err);
}

ok(defined((QueueTest::wait_for_worker($node, 'postgres', 10))[0]),
	'postgres is served');

# The worker steps aside only for a command that will run: a role that
# may not run one (nor anyone running an ALTER DATABASE that needs no
# lone database) cannot keep the worker, and so expiry and retention, away.
{
	my ($worker) = QueueTest::wait_for_worker($node, 'postgres', 10);
	sql($node, 'CREATE DATABASE lobby');
	sql($node, 'CREATE ROLE intruder LOGIN');
	for my $cmd (
		'ALTER DATABASE postgres CONNECTION LIMIT 5',
		'DROP DATABASE postgres',
		'CREATE DATABASE stolen TEMPLATE postgres',
		'ALTER DATABASE postgres RENAME TO gone',
		'ALTER DATABASE postgres SET TABLESPACE pg_default')
	{
		my ($ret, $out, $err) =
		  $node->psql('lobby', $cmd, extra_params => [ '-U', 'intruder' ]);
		like($err, qr/permission denied|must be owner/, "a role without privileges: $cmd fails")
		  or diag($err);
	}
	sql($node, 'ALTER DATABASE postgres CONNECTION LIMIT 50');
	sql($node, 'ALTER DATABASE postgres CONNECTION LIMIT -1');
	is(join(',', QueueTest::queue_workers($node, 'postgres')), $worker,
		'the worker of postgres stayed through all of them');
	sql($node, 'DROP DATABASE lobby');
	sql($node, 'DROP ROLE intruder');
}

# A new database: not served without the extension; served soon after
# CREATE EXTENSION commits; left when the extension is dropped.
sql($node, 'CREATE DATABASE fresh');
# Two launcher rounds: the launcher has looked at the new database.
sleep 2;
is(scalar(QueueTest::queue_workers($node, 'fresh')), 0,
	'fresh: no worker without the extension');
my $t0 = time;
sql($node, 'CREATE EXTENSION queue', 'fresh');
my ($fresh_worker, $fresh_wait) = QueueTest::wait_for_worker($node, 'fresh', 30);
ok($fresh_worker, 'fresh: served after CREATE EXTENSION, without a restart');
cmp_ok(time - $t0, '<', 3, 'fresh: within a few seconds of the commit');
send_expiring($node, 'fresh');
ok(defined expired_within($node, 'fresh', 10), 'fresh: its worker expires messages');
sql($node, 'DROP EXTENSION queue CASCADE', 'fresh');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $fresh_worker", '0', 10),
	'fresh: the worker leaves when the extension is dropped');

# Three more served databases (with postgres, four: queue.max_workers).
for my $db ('victim', 'tmpl', 'renamee')
{
	sql($node, "CREATE DATABASE $db");
	sql($node, 'CREATE EXTENSION queue', $db);
	sql($node, q{SELECT mq_create_queue('keep'); SELECT mq_send('keep', '{"kept": true}')}, $db);
	ok(defined((QueueTest::wait_for_worker($node, $db, 10))[0]), "$db: served");
}

my ($secs, $ret, $err) = timed('DROP DATABASE victim');
is($ret, 0, 'DROP DATABASE of a served database succeeds') or diag($err);
cmp_ok($secs, '<', 3, 'DROP DATABASE: at once');

($secs, $ret, $err) = timed('CREATE DATABASE copy TEMPLATE tmpl');
is($ret, 0, 'CREATE DATABASE ... TEMPLATE of a served database succeeds') or diag($err);
cmp_ok($secs, '<', 3, 'CREATE DATABASE ... TEMPLATE: at once');
my $stepped_aside = time;

($secs, $ret, $err) = timed('ALTER DATABASE renamee RENAME TO renamed');
is($ret, 0, 'ALTER DATABASE ... RENAME of a served database succeeds') or diag($err);
cmp_ok($secs, '<', 3, 'ALTER DATABASE ... RENAME: at once');

is(sql($node, "SELECT depth FROM mq_queues WHERE queue = 'keep'", 'copy'), '1',
	'copy: the copy has the queue and its message');
ok(defined((QueueTest::wait_for_worker($node, 'copy', 10))[0]), 'copy: served');
send_expiring($node, 'copy');
ok(defined expired_within($node, 'copy', 10), 'copy: its worker expires messages');
is(scalar(QueueTest::queue_workers($node, 'tmpl')), 0, 'tmpl: its worker stays away');
is(scalar(QueueTest::queue_workers($node, 'renamed')), 0, 'renamed: its worker stays away');

# Meanwhile, on a server with queue.max_workers = 1, three databases take
# turns: each is served, and never more than one worker runs.
{
	my $turns = QueueTest::new_node('turns', conf => ['queue.max_workers = 1']);
	my @dbs = ('postgres', 'db2', 'db3');
	for my $db (@dbs[1 .. 2])
	{
		sql($turns, "CREATE DATABASE $db");
		sql($turns, 'CREATE EXTENSION queue', $db);
	}
	send_expiring($turns, $_) for @dbs;
	my $most = 0;
	my %gone;
	my $deadline = time + 20;
	while (time < $deadline && keys %gone < @dbs)
	{
		my @workers = QueueTest::queue_workers($turns);
		$most = @workers if @workers > $most;
		for my $db (grep { !$gone{$_} } @dbs)
		{
			$gone{$db} = 1
			  if sql($turns, "SELECT depth FROM mq_queues WHERE queue = 'ttl'", $db) eq '0';
		}
		usleep(100_000);
	}
	for my $db (@dbs)
	{
		ok($gone{$db}, "max_workers 1: $db is served (its expired message goes)");
	}
	cmp_ok($most, '<=', 1, 'max_workers 1: never more than one worker at a time');
	$turns->stop;
}

# The databases that were stepped aside from are served again after about
# queue.step_aside_interval.
my $latest = $away_for + 20;
for my $db ('tmpl', 'renamed')
{
	my ($pid) = QueueTest::wait_for_worker($node, $db, $latest - (time - $stepped_aside))
	  if time - $stepped_aside < $latest;
	my $away = time - $stepped_aside;
	ok($pid, "$db: served again later");
	ok($away >= $away_for - 3 && $away <= $latest, "$db: after about $away_for s")
	  or diag(sprintf('served again after %.1f s', $away));
}
send_expiring($node, $_) for ('tmpl', 'renamed');
ok(defined expired_within($node, $_, 10), "$_: its worker expires messages")
  for ('tmpl', 'renamed');

# Fewer places by a reload: soon at most one worker runs, and every
# database is still served.
QueueTest::reload_settings($node, 'queue.max_workers' => '1');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) <= 1 FROM pg_stat_activity WHERE backend_type = 'queue worker'",
		't', 10),
	'max_workers reloaded to 1: at most one worker runs');
my @served = ('postgres', 'copy', 'tmpl', 'renamed');
send_expiring($node, $_) for @served;
ok(defined expired_within($node, $_, 20), "max_workers reloaded to 1: $_ is still served")
  for @served;

$node->stop;
done_testing();
