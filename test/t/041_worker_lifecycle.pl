# The life of a worker.  SIGTERM (pg_terminate_backend) ends it at once
# and the launcher starts a new one later.  An error in one queue's
# maintenance is logged and the other queues are still served by the same
# process; an error outside (the catalog table mq.objects cannot be read)
# is logged and ends the process, and the launcher starts it again after a
# back-off of about 10 s, when it works again.  queue.worker_enabled = off
# (reload) stops the workers and nothing expires; on again, they come back.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = QueueTest::new_node('lifecycle');

sub sql { my ($sql, $db) = @_; return $node->safe_psql($db // 'postgres', $sql); }

# Send a message with a TTL of 1 s to queue 'ttl' (created on first use) and
# wait until the worker has moved it out: seconds taken, or undef.
sub expires_in
{
	my ($db, $timeout) = @_;
	sql(q{SELECT mq_create_queue('ttl', message_ttl => '1 second', if_not_exists => true);
	      SELECT mq_send('ttl', '{}')}, $db);
	return QueueTest::poll_until($node, $db,
		"SELECT depth FROM mq_queues WHERE queue = 'ttl'", '0', $timeout);
}

sql('CREATE DATABASE other');
sql('CREATE EXTENSION queue', 'other');
my ($pg_worker) = QueueTest::wait_for_worker($node, 'postgres', 10);
my ($other_worker) = QueueTest::wait_for_worker($node, 'other', 10);
ok($pg_worker && $other_worker, 'both databases have a worker');
ok(defined expires_in('postgres', 10), 'postgres: the worker expires messages');
ok(defined expires_in('other', 10), 'other: the worker expires messages');

# An error in one queue's maintenance: the storage table of 'broken' is
# renamed away; the error is logged and 'fine' is still served.
{
	sql(q{SELECT mq_create_queue('broken', message_ttl => '1 second');
	      SELECT mq_create_queue('fine', message_ttl => '1 second');
	      SELECT mq_send('broken', '{}'); SELECT mq_send('fine', '{}')}, 'other');
	my $table = sql("SELECT 'q_' || id FROM mq.objects WHERE name = 'broken'", 'other');
	my $offset = -s $node->logfile;
	sql("ALTER TABLE mq.$table RENAME TO ${table}_away", 'other');
	ok(QueueTest::log_wait($node, qr/maintenance of queue "broken" failed/, $offset, 10),
		'queue error: logged, naming the queue');
	ok( defined QueueTest::poll_until($node, 'other',
			"SELECT count(*) FROM mq_stats WHERE queue = 'fine' AND expired = 1", '1', 10),
		'queue error: the other queue is still served');
	is(join(',', QueueTest::queue_workers($node, 'other')), $other_worker,
		'queue error: by the same process');
	sql("ALTER TABLE mq.${table}_away RENAME TO $table", 'other');
	ok( defined QueueTest::poll_until($node, 'other',
			"SELECT count(*) FROM mq_stats WHERE queue = 'broken' AND expired = 1", '1', 10),
		'queue error: once repaired, the queue is served again');
}

# At the same time: SIGTERM to the worker of postgres, and an error outside
# any queue in other (mq.objects renamed), repaired once it is logged.
my $offset = -s $node->logfile;
my $t0 = time;
is(sql("SELECT pg_terminate_backend($pg_worker, 5000)"), 't',
	'SIGTERM: the worker exits within the timeout');
cmp_ok(time - $t0, '<', 2, 'SIGTERM: at once');
my $terminated = QueueTest::server_time($node);

sql('ALTER TABLE mq.objects RENAME TO objects_away', 'other');
ok( QueueTest::log_wait(
		$node, qr/ERROR:[^\n]*relation "mq\.objects" does not exist/, $offset, 10),
	'catalog error: the error is logged');
ok( QueueTest::log_wait(
		$node,
		qr/background worker "queue worker[^"]*" \(PID $other_worker\) exited with exit code 1/,
		$offset, 10),
	'catalog error: the worker process ends');
my $failed = QueueTest::server_time($node);
is(scalar(QueueTest::queue_workers($node, 'other')), 0, 'catalog error: no worker for a while');
sql('ALTER TABLE mq.objects_away RENAME TO objects', 'other');

my ($new_pg, $pg_wait) = QueueTest::wait_for_worker($node, 'postgres', 40, $pg_worker);
ok($new_pg, 'SIGTERM: a new worker starts later');
my ($new_other, $other_wait) = QueueTest::wait_for_worker($node, 'other', 40, $other_worker);
ok($new_other, 'catalog error: a new worker starts after the back-off');
my %started = map { split /\|/ } split /\n/, sql(
	"SELECT datname, extract(epoch FROM backend_start) FROM pg_stat_activity
	  WHERE backend_type = 'queue worker'");
my $back_off = $started{other} - $failed;
ok($back_off >= 5 && $back_off <= 20, 'catalog error: the back-off is about 10 s')
  or diag("restarted after $back_off s");
note(sprintf('SIGTERM: restarted after %.1f s', $started{postgres} - $terminated));
ok(defined expires_in('postgres', 10), 'SIGTERM: the new worker expires messages');
ok(defined expires_in('other', 10), 'catalog error: the new worker expires messages');
is(join(',', QueueTest::queue_workers($node, 'other')), $new_other,
	'catalog error: the new worker keeps running once repaired');

# queue.worker_enabled = off stops the workers (not the launcher); on again,
# they come back and work.
QueueTest::reload_settings($node, 'queue.worker_enabled' => 'off');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue worker'",
		'0', 10),
	'worker_enabled off: the workers stop');
is(scalar(QueueTest::queue_launchers($node)), 1, 'worker_enabled off: the launcher stays');
sql(q{SELECT mq_send('ttl', '{"disabled": true}')});
sleep 3;
is(sql("SELECT depth FROM mq_queues WHERE queue = 'ttl'"), '1',
	'worker_enabled off: nothing expires');
is(scalar(QueueTest::queue_workers($node)), 0, 'worker_enabled off: no worker came back');
QueueTest::reload_settings($node, 'queue.worker_enabled' => 'on');
ok(defined((QueueTest::wait_for_worker($node, 'postgres', 30))[0]),
	'worker_enabled on: a worker serves postgres again');
ok(defined((QueueTest::wait_for_worker($node, 'other', 30))[0]),
	'worker_enabled on: a worker serves other again');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT depth FROM mq_queues WHERE queue = 'ttl'", '0', 10),
	'worker_enabled on: the expired message goes');

$node->stop;
done_testing();
