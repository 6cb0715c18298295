# The background worker's rounds.  A launcher starts with the server and a
# worker serves the database that has the extension (none serves a database
# without it).  With nobody reading, the worker moves messages past their
# message_ttl (delayed ones too) and messages that used up max_deliveries
# out of their queues -- to the dead-letter queue with reason "ttl" /
# "max_deliveries", or dropped -- within two naptimes, at most
# queue.worker_batch per queue per round; a waiter on the dead-letter queue
# is woken by it.  A reload of queue.naptime takes effect.  Every
# queue.prune_interval (20 s here, 60 s by default) it deletes idempotency
# keys past their window.  Between rounds it uses next to no CPU.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $prune = 20;
my $node = QueueTest::new_node('worker', conf => ["queue.prune_interval = ${prune}s"]);
my $naptime = 1;
my $slack = 0.5;    # for the test's own polling

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub now { return QueueTest::server_time($node); }

# Idempotency keys first: the worker's first round (at its start) prunes,
# the next one prune_interval later; the wait for it comes at the end.
sql(q{SELECT mq_create_queue('keys_short', dedup_window => '1 second');
      SELECT mq_create_queue('keys_long');
      SELECT mq_send(q, '{}', idempotency_key => 'k' || i)
        FROM unnest(ARRAY['keys_short', 'keys_long']) q, generate_series(1, 5) i});
my $short_keys = QueueTest::storage_table($node, 'keys_short') . '_keys';
my $long_keys = QueueTest::storage_table($node, 'keys_long') . '_keys';
my $keys_expire = sql("SELECT extract(epoch FROM max(sent_at)) + 1 FROM $short_keys");
is(sql("SELECT (SELECT count(*) FROM $short_keys) || '/' || (SELECT count(*) FROM $long_keys)"),
	'5/5', 'keys: five keys stored per queue');

# Processes.
sql('CREATE DATABASE plain');
my @launchers = QueueTest::queue_launchers($node);
is(scalar(@launchers), 1, 'one queue launcher runs');
my ($worker) = QueueTest::wait_for_worker($node, 'postgres', 10);
ok($worker, 'a queue worker serves the database with the extension');
my $dboid = sql("SELECT oid FROM pg_database WHERE datname = 'postgres'");
like(slurp_file("/proc/$worker/cmdline"),
	qr/^postgres: .*queue worker for database $dboid\b/,
	'the worker is named after its database');

# Expiry into a dead-letter queue, with a reader waiting there.
sql(q{SELECT mq_create_queue('dead');
      SELECT mq_create_queue('exp', message_ttl => '1 second', dead_letter_queue => 'dead')});
my $waiter = QueueTest::session($node);
my $waiter_pid = QueueTest::session_pid($waiter);
QueueTest::session_start($waiter,
	"SELECT extract(epoch FROM clock_timestamp()), body->>'n'
	   FROM mq_read('dead', 1, '1 hour', wait => '15 seconds')");
ok(defined QueueTest::wait_until_sleeping($node, $waiter_pid),
	'ttl: a reader waits on the dead-letter queue');
sql(q{SELECT mq_send('exp', '{"n": 1}');
      SELECT mq_send('exp', '{"n": 2}', delay => '1 hour');
      SELECT mq_send('exp', '{"n": 3}', priority => 5)});
my $exp_table = QueueTest::storage_table($node, 'exp');
my %expiry = map { split /\|/ } split /\n/,
  sql("SELECT body->>'n', extract(epoch FROM enqueued_at) + 1 FROM $exp_table");
is(join(',', sort keys %expiry), '1,2,3', 'ttl: three messages stored');

my ($woken, $first) = split /\|/, (QueueTest::session_result($waiter, 30))[0];
ok($first, 'ttl: the waiter on the dead-letter queue gets an expired message');
cmp_ok($woken - $expiry{$first}, '<=', 2 * $naptime + $slack,
	'ttl: the waiter is woken within two naptimes of the expiry');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT depth FROM mq_queues WHERE queue = 'exp'", '0', 10),
	'ttl: every expired message left its queue, the delayed one too');
my $dead_table = QueueTest::storage_table($node, 'dead');
my @dead = map { [ split /\|/ ] } split /\n/, sql(
	"SELECT body->>'n', headers->'mq_dead_letter'->>'queue',
	        headers->'mq_dead_letter'->>'reason',
	        extract(epoch FROM (headers->'mq_dead_letter'->>'at')::timestamptz),
	        255 - rank
	   FROM $dead_table ORDER BY body->>'n'");
is( join(' ', map { "$_->[0]:$_->[1]:$_->[2]:$_->[4]" } @dead),
	'1:exp:ttl:0 2:exp:ttl:0 3:exp:ttl:5',
	'ttl: all three in the dead-letter queue with reason ttl, priority kept');
for my $d (@dead)
{
	my $late = $d->[3] - $expiry{ $d->[0] };
	ok( $late >= 0 && $late <= 2 * $naptime,
		"ttl: message $d->[0] moved within two naptimes of its expiry")
	  or diag("moved $late s after its expiry");
}

# Expiry without a dead-letter queue: dropped.
sql(q{SELECT mq_create_queue('exp_drop', message_ttl => '1 second');
      SELECT mq_send('exp_drop', '{"n": 1}');
      SELECT mq_send('exp_drop', '{"n": 2}', delay => '1 hour')});
my $drop_expiry = sql("SELECT extract(epoch FROM max(enqueued_at)) + 1 FROM "
	  . QueueTest::storage_table($node, 'exp_drop'));
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT depth FROM mq_queues WHERE queue = 'exp_drop'", '0', 10),
	'ttl without a dead-letter queue: the messages are dropped');
cmp_ok(now() - $drop_expiry, '<=', 2 * $naptime + $slack,
	'ttl without a dead-letter queue: within two naptimes of the expiry');
is(sql("SELECT expired FROM mq_stats WHERE queue = 'exp_drop'"), '2',
	'ttl without a dead-letter queue: counted as expired');

# Messages that used up max_deliveries, after their lease ends without an
# ack and with nobody reading the queue again.
sql(q{SELECT mq_create_queue('exh', max_deliveries => 1, dead_letter_queue => 'dead');
      SELECT mq_create_queue('exh_drop', max_deliveries => 1);
      SELECT mq_send('exh', '{"n": 10}');
      SELECT mq_send('exh_drop', '{"n": 11}')});
my ($lease_from, $lease_end) = split /\|/, sql(
	"SELECT extract(epoch FROM statement_timestamp()) + 1,
	        extract(epoch FROM clock_timestamp()) + 1
	   FROM mq_read('exh', 1, '1 second') a, mq_read('exh_drop', 1, '1 second') b");
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT sum(depth) FROM mq_queues WHERE queue IN ('exh', 'exh_drop')", '0', 10),
	'max_deliveries: both messages left their queues');
cmp_ok(now() - $lease_end, '<=', 2 * $naptime + $slack,
	'max_deliveries: within two naptimes of the end of the lease');
my ($reason, $at) = split /\|/, sql(
	"SELECT headers->'mq_dead_letter'->>'reason',
	        extract(epoch FROM (headers->'mq_dead_letter'->>'at')::timestamptz)
	   FROM $dead_table WHERE body->>'n' = '10'");
is($reason, 'max_deliveries', 'max_deliveries: dead-lettered with that reason');
cmp_ok($at, '>=', $lease_from, 'max_deliveries: not moved while leased');
is(sql("SELECT dead_lettered FROM mq_stats WHERE queue = 'exh_drop'"), '1',
	'max_deliveries without a dead-letter queue: dropped, counted as dead-lettered');

# queue.worker_batch: at most that many per queue per round.
QueueTest::reload_settings($node, 'queue.worker_batch' => '10');
sql(q{SELECT mq_create_queue('batch', message_ttl => '1 second');
      SELECT mq_send_batch('batch', array_fill('{}'::jsonb, ARRAY[50]))});
# Counted with an MVCC snapshot of the storage table: mq_queues counts the
# latest committed state row by row, so a count running across the worker's
# commit may see part of a round.
my $batch_table = 'mq.q_' . sql("SELECT id FROM mq.objects WHERE name = 'batch'");
my (%seen, $first_drop, $last_drop);
my $deadline = time + 30;
while (time < $deadline)
{
	my $depth = sql("SELECT count(*) FROM $batch_table");
	$seen{$depth} = 1;
	$first_drop //= time if $depth < 50;
	if ($depth == 0) { $last_drop = time; last; }
	usleep(50_000);
}
ok(defined $last_drop, 'worker_batch: all fifty expired');
is(join(',', grep { $_ % 10 } keys %seen), '',
	'worker_batch: ten per round (only multiples of ten seen)')
  or diag('depths seen: ' . join(',', sort { $b <=> $a } keys %seen));
cmp_ok($last_drop - $first_drop, '>=', 2.5 * $naptime,
	'worker_batch: over several rounds');
QueueTest::reload_settings($node, 'queue.worker_batch' => '1000');

# A reload of queue.naptime takes effect: with 30 s, a message that expired
# stays; back to 1 s (the reload wakes the worker), it goes at once.
QueueTest::reload_settings($node, 'queue.naptime' => '30s');
usleep(300_000);
sql(q{SELECT mq_create_queue('nap', message_ttl => '1 second');
      SELECT mq_send('nap', '{}')});
sleep 4;
is(sql("SELECT depth FROM mq_queues WHERE queue = 'nap'"), '1',
	'naptime 30 s: an expired message stays for 4 s');
is(sql("SELECT count(*) FROM mq_peek('nap')"), '0', 'naptime 30 s: it is expired');
is(sql('SELECT count(*) FROM pg_stat_activity WHERE pid = ' . $worker), '1',
	'naptime 30 s: the same worker (a reload does not restart it)');
my $t0 = time;
QueueTest::reload_settings($node, 'queue.naptime' => '1s');
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT depth FROM mq_queues WHERE queue = 'nap'", '0', 10),
	'naptime back to 1 s: the expired message goes');
cmp_ok(time - $t0, '<', 3 * $naptime, 'naptime back to 1 s: soon after the reload');

# Nobody serves the database without the extension.
is(scalar(QueueTest::queue_workers($node, 'plain')), 0,
	'no worker for a database without the extension');
is(join(',', QueueTest::queue_workers($node)), $worker,
	'the one worker is the same process as at the start');

# Idle: next to no CPU between rounds (naptime 1 s, a dozen queues).
{
	my $before = QueueTest::cpu_ticks($worker);
	sleep 3;
	my $used = QueueTest::cpu_ticks($worker) - $before;
	cmp_ok($used, '<', 10, 'idle worker: less than 10 clock ticks in 3 s');
}

# Keys past their window go within about prune_interval (the window ended
# at the start of this test).
my $pruned = QueueTest::poll_until($node, 'postgres',
	"SELECT count(*) FROM $short_keys", '0', 2 * $prune + 10);
ok(defined $pruned, 'keys: the keys past their window are pruned');
my $late = now() - $keys_expire;
cmp_ok($late, '<=', $prune + 2 * $naptime + 3,
	'keys: within about prune_interval of the end of their window');
note(sprintf('keys pruned %.1f s after their window ended', $late));
is(sql("SELECT count(*) FROM $long_keys"), '5', 'keys: keys within their window stay');
is(sql(q{SELECT mq_send('keys_long', '{}', idempotency_key => 'k1')}),
	sql("SELECT id FROM $long_keys WHERE key = 'k1'"),
	'keys: a key within its window still deduplicates');
is(join(',', QueueTest::queue_workers($node)), $worker,
	'the same worker served the whole test');

QueueTest::session_close($waiter);
$node->stop;
done_testing();
