# A major-version upgrade of a database that uses the extension: a cluster
# of the old version (QUEUE_OLD_INSTALL, PostgreSQL 15) with queues
# (leased, delayed and dead-lettered messages, idempotency keys), topics
# with subscriptions, streams with consumer groups part-way through, and
# grants to other roles, is
#   - upgraded with pg_upgrade to this version (18), and
#   - dumped with this version's pg_dump and restored into a new cluster.
# Afterwards every object, message, key, position and grant is there,
# leases are reset (as after a restart), the worker runs and gives back the
# role dependencies pg_upgrade does not carry, and every operation works.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_install = $ENV{QUEUE_OLD_INSTALL}
  or die "QUEUE_OLD_INSTALL must name the old version's installation";

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_install);
$old->init;
$old->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'");
$old->start;
my $major = q{SELECT current_setting('server_version_num')::int / 10000};
is($old->safe_psql('postgres', $major), '15', 'the old cluster runs 15');

$old->safe_psql('postgres', q{
	CREATE ROLE app_owner; CREATE ROLE app_sender; CREATE ROLE "App Reader";
	CREATE DATABASE shop});
$old->safe_psql(
	'shop', q{
	CREATE EXTENSION queue;
	SELECT mq_create_queue('dead');
	SELECT mq_create_queue('orders', max_deliveries => 2, dead_letter_queue => 'dead',
	                       dedup_window => '1 day', visibility_timeout => '1 hour');
	SELECT mq_send('orders', jsonb_build_object('n', g), headers => '{"h": 1}',
	               idempotency_key => 'k' || g)
	  FROM generate_series(1, 6) g;
	SELECT mq_send('orders', '{"n": 7}', delay => '1 day', priority => 5);
	-- n = 1 twice past its lease: a dead letter.  Two more leased for an hour.
	SELECT count(*) FROM mq_read('orders', 1, '0 seconds');
	SELECT pg_sleep(0.01);
	SELECT count(*) FROM mq_read('orders', 1, '0 seconds');
	SELECT pg_sleep(0.01);
	SELECT count(*) FROM mq_read('orders', 3);
	SELECT mq_create_topic('events');
	SELECT mq_subscribe('events', 'orders', 'order.#');
	SELECT mq_subscribe('events', 'dead', '*.audit');
	SELECT mq_publish('events', 'order.created', '{"p": 1}', idempotency_key => 'p1');
	SELECT mq_create_stream('log', partitions => 2);
	SELECT mq_create_group('log', 'g');
	SELECT mq_create_group('log', 'h');
	SELECT count(*) FROM mq_append_batch('log', (SELECT array_agg(jsonb_build_object('r', g)) FROM generate_series(1, 10) g),
	                                     (SELECT array_agg(CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END) FROM generate_series(1, 10) g));
	SELECT count(*) FROM mq_consume('log', 'g', 3);
	GRANT EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	                                          text, int, interval, boolean, boolean,
	                                          int, float8, interval, text, interval, float8,
	                                          boolean, boolean) TO app_owner;
	SET ROLE app_owner;
	SELECT mq_create_queue('owned');
	SELECT mq_grant('owned', '"App Reader"', '{read}');
	SELECT mq_send('owned', '{"o": 1}');
	SELECT mq_create_schedule('owned-nightly', '30 2 * * *', 'owned', '{"s": 1}',
	                          timezone => 'Europe/Berlin', catch_up => true);
	SELECT mq_alter_schedule('owned-nightly', paused => true);
	RESET ROLE;
	SELECT mq_grant('orders', 'app_sender', '{send}');
	SELECT mq_grant('log', '"App Reader"', '{read,send}');
	SELECT mq_grant('events', 'app_sender', '{send,manage}');
});

# What must be there afterwards, read the same way from every cluster.
my %facts = (
	queues => q{SELECT string_agg(queue || ':' || depth || ':' || ready || ':' || delayed, ',' ORDER BY queue)
	              FROM mq_queues},
	# every message of the queue, leased or not, from its storage table
	messages => q{SELECT string_agg(m.id || '=' || coalesce(m.body->>'n', m.body->>'p') || '/' || m.deliveries
	                                || '/' || m.rank || '/' || coalesce(m.headers::text, ''), ',' ORDER BY m.id)
	                FROM mq.q_ORDERS m},
	dead => q{SELECT string_agg(coalesce(m.body->>'n', m.body->>'p'), ',' ORDER BY m.id) FROM mq_peek('dead', 100) m},
	grants => q{SELECT string_agg(object || ':' || owner || ':' || coalesce(grantee::text, '-') || ':'
	                              || coalesce(array_to_string(privileges, '+'), '-'), ',' ORDER BY object, grantee::text)
	              FROM mq_grants},
	topics => q{SELECT string_agg(topic || ':' || coalesce(queue, '-') || ':' || coalesce(pattern, '-'), ',' ORDER BY topic, queue, pattern)
	              FROM mq_topics},
	schedules => q{SELECT string_agg(concat_ws(':', schedule, owner, cron, timezone, target, paused,
	                                           next_run, runs, catch_up, body), ',' ORDER BY schedule)
	                 FROM mq_schedules},
	groups => q{SELECT string_agg(consumer_group || ':' || partition || ':' || position || ':' || lag, ',' ORDER BY 1)
	              FROM mq_groups},
	streams => q{SELECT string_agg(partition || ':' || first_position || ':' || next_position || ':' || records, ',' ORDER BY partition)
	               FROM mq_streams},
	records => q{SELECT string_agg(partition || '@' || position || '=' || (body->>'r') || '/' || key, ',' ORDER BY partition, position)
	               FROM mq_stream_read('log', 0, 0, 100) UNION ALL
	             SELECT string_agg(partition || '@' || position || '=' || (body->>'r') || '/' || key, ',' ORDER BY partition, position)
	               FROM mq_stream_read('log', 1, 0, 100)},
);
my $orders_id = $old->safe_psql('shop', "SELECT id FROM mq.objects WHERE name = 'orders'");
$facts{messages} =~ s/ORDERS/$orders_id/;
my %before;
$before{$_} = $old->safe_psql('shop', $facts{$_}) for keys %facts;
is($before{queues}, 'dead:1:1:0,orders:7:3:1,owned:1:1:0',
	'before: a dead letter, leased, ready and delayed messages');

# What group g has not consumed yet (a consume rolled back leaves the
# group where it was), and where the next append with key 'a' goes.
my $g_next = $old->safe_psql('shop', q{
	BEGIN;
	SELECT string_agg(partition || '@' || position, ',' ORDER BY partition, position)
	  FROM mq_consume('log', 'g', 100);
	ROLLBACK});
my $a_next = $old->safe_psql('shop', q{
	SELECT s.partition || '@' || s.next_position FROM mq_streams s
	 WHERE s.partition = (SELECT partition FROM mq_stream_read('log', 0, 0, 100) WHERE key = 'a'
	                      UNION SELECT partition FROM mq_stream_read('log', 1, 0, 100) WHERE key = 'a')});
like($g_next, qr/^\d@\d+(,\d@\d+)+$/, 'before: group g has records left');

# The leases live in shared memory: after an upgrade, as after a restart,
# the leased messages are ready again (the dead letter stays dead).
my %expected = %before;
$expected{queues} = 'dead:1:1:0,orders:7:6:1,owned:1:1:0';

# pg_dump of this version against the old server, for the restore below.
my $dump = $old->basedir . '/shop.dump';
my $roles = $old->basedir . '/roles.sql';
command_ok([ 'pg_dumpall', '--roles-only', '-f', $roles, '-h', $old->host, '-p', $old->port ],
	'pg_dumpall --roles-only of the old cluster');
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-h', $old->host, '-p', $old->port, 'shop' ],
	'pg_dump of the old cluster');
$old->stop;

# Checks a cluster of this version holds what the old one did, and works.
sub check_cluster
{
	my ($node, $how) = @_;
	my $sql = sub { $node->safe_psql('shop', $_[0]) };

	is($sql->($major), $ENV{PG}, "$how: the new cluster runs $ENV{PG}");
	is($sql->($facts{$_}), $expected{$_}, "$how: $_ as before") for sort keys %facts;

	# Role dependencies: the roles cannot be dropped, even from another database.
	my ($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE "App Reader"');
	like($err, qr/cannot be dropped because some objects depend on it/,
		"$how: a grantee cannot be dropped from another database");
	($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE app_owner');
	like($err, qr/cannot be dropped because some objects depend on it/,
		"$how: an owner cannot be dropped from another database");

	# Privileges are checked as before.
	($ret, $out, $err) = $node->psql('shop', "SET ROLE app_sender; SELECT * FROM mq_read('orders')");
	like($err, qr/permission denied for queue "orders"/, "$how: send does not let a role read");
	is($sql->(q{SET ROLE app_sender; SELECT mq_send('orders', '{"n": 8}') > 0}),
		't', "$how: a grantee sends");
	is($sql->(q{SET ROLE "App Reader"; SELECT string_agg(body->>'o', ',') FROM mq_read('owned', 5)}),
		'1', "$how: a grantee reads another owner's queue");

	# Keys, ids and positions go on where they were.
	is($sql->(q{SELECT mq_send('orders', '{"n": 2}', idempotency_key => 'k2')}),
		'2', "$how: an idempotency key still finds its message");
	is( $sql->(
			q{SELECT string_agg(body->>'n', ',' ORDER BY id)
	            FROM (SELECT id, body, mq_ack('orders', receipt) FROM mq_read('orders', 10, '1 hour')) a}),
		'2,3,4,5,6,8', "$how: the ready messages are read and acked, the delayed one waits");
	is($sql->(q{SELECT mq_publish('events', 'order.paid', '{"n": 9}', idempotency_key => 'p1') IS NULL}),
		't', "$how: a publish key from before still deduplicates (NULL: nothing published)");
	is($sql->(q{SELECT mq_publish('events', 'order.paid', '{"n": 9}', idempotency_key => 'p2')}),
		'1', "$how: publish");
	is($sql->(q{SELECT max(id) > 8 FROM mq_read('orders', 1)}),
		't', "$how: message ids continue after the old ones");
	is( $sql->(
			q{SELECT string_agg(partition || '@' || position, ',' ORDER BY partition, position)
	            FROM mq_consume('log', 'g', 100)}),
		$g_next, "$how: group g consumes what it had not");
	is($sql->(q{SELECT string_agg(partition || '@' || position, ',' ORDER BY 1) FROM mq_append('log', '{"r": 11}', key => 'a')}),
		$a_next, "$how: appends continue the partition's positions");
	is($sql->(q{SELECT count(*) FROM mq_consume('log', 'h', 100)}), '11', "$how: group h reads every record");
}

# pg_upgrade into a new cluster of this version (checksums as the old one).
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init(extra => [ '--no-data-checksums' ]);
$new->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'");
my $upgrade_dir = $new->basedir . '/upgrade';
mkdir $upgrade_dir;
chdir $upgrade_dir;
command_ok(
	[
		'pg_upgrade', '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', "$old_install/bin", '-B', $new->config_data('--bindir'),
		'-s', $new->host, '-p', $old->port, '-P', $new->port,
	],
	'pg_upgrade from 15');
$new->start;

# The worker starts in the database and gives back the rows of pg_shdepend.
ok( $new->poll_query_until(
		'shop', q{
	SELECT count(DISTINCT d.refobjid) FROM pg_shdepend d
	 WHERE d.classid = 'pg_extension'::regclass
	   AND d.dbid = (SELECT oid FROM pg_database WHERE datname = 'shop')
	   AND d.refobjid::regrole::text IN ('app_owner', 'app_sender', '"App Reader"')}, '3'),
	'the worker gives back the role dependencies of owners and grants');
check_cluster($new, 'pg_upgrade');
ok($new->log_contains(qr/queue: restored the role dependencies of \d+ objects/),
	'the worker says it did');
$new->stop;

# pg_dump from 15, pg_restore into a new cluster of this version.
my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init;
$restored->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'");
$restored->start;
$restored->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-f', $roles, '-d', 'postgres' ],
	'the roles are created');
$restored->safe_psql('postgres', 'CREATE DATABASE shop');
$restored->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'shop', $dump ],
	'pg_restore of the 15 dump');
check_cluster($restored, 'pg_dump/pg_restore');
$restored->stop;

done_testing();
