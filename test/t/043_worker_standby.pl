# The background worker on a standby.  A standby (a second local cluster
# made with pg_basebackup, streaming from the primary) runs neither the
# launcher nor a worker: messages past their TTL stay as the primary left
# them.  Once the standby is promoted the launcher starts, a worker serves
# the database, and the expired messages go within a few naptimes.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = QueueTest::new_node('primary',
	conf => [ 'wal_level = replica', 'max_wal_senders = 4' ]);
$primary->safe_psql('postgres',
	q{SELECT mq_create_queue('ttl', message_ttl => '1 second')});
ok(defined((QueueTest::wait_for_worker($primary, 'postgres', 10))[0]),
	'primary: a worker serves the database');

my $standby = QueueTest::new_standby($primary, 'standby');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
	'standby: in recovery');

# From here the primary expires nothing itself, so what the standby shows
# is what its own worker would have done.
QueueTest::reload_settings($primary, 'queue.worker_enabled' => 'off');
ok( defined QueueTest::poll_until($primary, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue worker'",
		'0', 10),
	'primary: worker disabled');
$primary->safe_psql('postgres',
	q{SELECT mq_send_batch('ttl', ARRAY['1', '2', '3']::jsonb[])});
$primary->wait_for_catchup($standby);
my $table = QueueTest::storage_table($standby, 'ttl');
is($standby->safe_psql('postgres', "SELECT count(*) FROM $table"),
	'3', 'standby: the messages arrived');

# Three naptimes and more than the TTL.
sleep 3;
is(scalar(QueueTest::queue_launchers($standby)), 0, 'standby: no launcher');
is(scalar(QueueTest::queue_workers($standby)), 0, 'standby: no worker');
is($standby->safe_psql('postgres', "SELECT count(*) FROM $table"),
	'3', 'standby: expired messages are left alone');
my ($ret, $out, $err) = $standby->psql('postgres', q{SELECT mq_send('ttl', '{}')});
isnt($ret, 0, 'standby: a send is refused (read-only)');
like($err, qr/read-only/, 'standby: the error says why');

$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f',
	'promoted: out of recovery');
ok(defined QueueTest::poll_until($standby, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue launcher'",
		'1', 10),
	'promoted: the launcher starts');
ok(defined((QueueTest::wait_for_worker($standby, 'postgres', 10))[0]),
	'promoted: a worker serves the database');
ok(defined QueueTest::poll_until($standby, 'postgres',
		"SELECT count(*) FROM $table", '0', 10),
	'promoted: the expired messages go');
is($primary->safe_psql('postgres', "SELECT count(*) FROM $table"),
	'3', 'primary: still there (its worker is off)');

$standby->stop;
$primary->stop;
done_testing();
