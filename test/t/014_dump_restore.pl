# pg_dump and pg_restore of a database with queues, topics and streams:
# the restored objects hold the same data and go on where they were --
# message ids, idempotency keys, subscriptions, stream positions and
# consumer-group positions, owners and grants (by role name, with their
# pg_shdepend rows recreated), schedules with their owners and next times.  Leases live in shared memory and are not
# dumped: leased messages are ready again in the restored database.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('dump', extension => 0);
$node->safe_psql('postgres', 'CREATE ROLE app_owner; CREATE ROLE app_reader; CREATE ROLE app_sched');
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql(
	'src', q{
	CREATE EXTENSION queue;
	SELECT mq_create_queue('dead');
	SELECT mq_create_queue('orders', max_deliveries => 3, dead_letter_queue => 'dead',
	                       dedup_window => '1 day', visibility_timeout => '1 hour');
	SELECT mq_send('orders', jsonb_build_object('n', g), headers => '{"h": 1}',
	               idempotency_key => 'k' || g)
	  FROM generate_series(1, 5) g;
	SELECT count(*) FROM mq_read('orders', 2);
	SELECT mq_create_topic('events');
	SELECT mq_subscribe('events', 'orders', 'order.#');
	SELECT mq_create_queue('grouped', max_inflight_per_group => 2, rate_limit => 1000,
	                       retry_delay => '1 second', retry_backoff => 'linear');
	SELECT mq_send('grouped', to_jsonb(m), group_key => left(m, 1))
	  FROM unnest(ARRAY['x1', 'x2', 'x3', 'x4', 'y1']) m;
	SELECT mq_create_queue('nulls', allow_null_bodies => true);
	SELECT mq_send('nulls', NULL);
	SELECT mq_create_stream('log', partitions => 2);
	SELECT mq_create_group('log', 'g');
	SELECT count(*) FROM mq_append_batch('log', ARRAY['{"r": 1}', '{"r": 2}', '{"r": 3}']::jsonb[],
	                                     ARRAY['a', 'a', 'a']);
	SELECT count(*) FROM mq_consume('log', 'g', 1);
	GRANT EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	                                          text, int, interval, boolean, boolean,
	                                          int, float8, interval, text, interval, float8,
	                                          boolean, boolean) TO app_owner;
	SET ROLE app_owner;
	SELECT mq_create_queue('owned');
	SELECT mq_grant('owned', 'app_reader', '{read}');
	RESET ROLE;
	SELECT mq_grant('log', 'app_reader', '{read,send}');
	SELECT mq_grant('log', 'app_sched', '{send}');
	SET ROLE app_sched;
	SELECT mq_create_schedule('nightly', '30 2 * * *', 'log', '{"report": 1}',
	                          routing_key => 'a', timezone => 'Europe/Berlin');
	RESET ROLE;
	SELECT mq_revoke('log', 'app_sched');
	SELECT mq_create_schedule('yearly', '@yearly', 'orders', '{}', headers => '{"h": 2}',
	                          catch_up => true);
	SELECT mq_alter_schedule('yearly', paused => true);
});
my $schedules_sql = q{SELECT string_agg(concat_ws(':', schedule, owner, cron, timezone, target,
	                                        paused, next_run, runs, catch_up, routing_key,
	                                        body, headers), ',' ORDER BY schedule)
	                    FROM mq_schedules};
my $schedules = $node->safe_psql('src', $schedules_sql);

my $dump = $node->basedir . '/src.dump';
command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-h', $node->host, '-p', $node->port, 'src' ],
	'pg_dump of a database with queues, topics and streams');
command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', 'dst', '-h', $node->host, '-p', $node->port, $dump ],
	'pg_restore into an empty database');

sub dst { return $node->safe_psql('dst', $_[0]); }

is(dst("SELECT string_agg(queue || ':' || depth, ',' ORDER BY queue) FROM mq_queues"),
	'dead:0,grouped:5,nulls:1,orders:5,owned:0', 'queues and their messages are restored');
is(dst(q{SELECT allow_null_bodies || ':' || (SELECT count(*) FROM mq_peek('nulls') WHERE body IS NULL)
	       FROM mq_queues WHERE queue = 'nulls'}),
	'true:1', 'a NULL body and allow_null_bodies are restored');
is( dst(q{SELECT max_inflight_per_group || ',' || rate_limit || ',' || retry_delay || ','
	             || retry_backoff FROM mq_queues WHERE queue = 'grouped'}),
	'2,1000,00:00:01,linear', 'the options of groups, rate limit and retries are restored');
is( dst(q{SELECT string_agg(body #>> '{}', ',' ORDER BY id) FROM mq_read('grouped', 10)}),
	'x1,x2,y1', 'message groups are restored with their order and windows');
is(dst(q{SELECT mq_send('grouped', '"x5"', group_key => 'x') > 0}), 't',
	'a restored queue takes grouped sends');
is( dst(
		q{SELECT string_agg(object || ':' || owner || ':' || coalesce(grantee::text, '-') || ':'
	                        || coalesce(privileges::text, '-'), ',' ORDER BY object)
	        FROM mq_grants WHERE object IN ('owned', 'log')}),
	'log:postgres:app_reader:{send,read},owned:app_owner:app_reader:{read}',
	'owners and grants are restored');
is( dst(
		q{SET ROLE app_reader; SELECT count(*) FROM mq_read('owned');
	      SELECT count(*) > 0 FROM mq_stream_read('log', 0, 0)}),
	"0\nt", 'the restored grants are in force');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE app_reader');
like($err, qr/cannot be dropped because some objects depend on it.*objects? in database dst/s,
	'the restored grants hold their roles (pg_shdepend rows were recreated)');
is(dst($schedules_sql), $schedules,
	'schedules are restored with their owners, settings and next times');
($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE app_sched');
like($err, qr/cannot be dropped because some objects depend on it.*objects? in database dst/s,
	'a restored schedule holds its owner (pg_shdepend row recreated)');
is(dst("SELECT visibility_timeout, max_deliveries, dead_letter_queue FROM mq_queues WHERE queue = 'orders'"),
	'01:00:00|3|dead', 'queue options are restored');
is( dst(
		q{SELECT string_agg(id || ':' || (body->>'n') || ':' || deliveries || ':' || (headers->>'h'), ',' ORDER BY id)
	        FROM mq_peek('orders', 10)}),
	'1:1:1:1,2:2:1:1,3:3:0:1,4:4:0:1,5:5:0:1',
	'bodies, headers and delivery counts are restored; leases are not');
is(dst("SELECT mq_send('orders', '{}', idempotency_key => 'k3')"),
	'3', 'an idempotency key still finds its message');
is(dst("SELECT mq_send('orders', '{}')"), '6', 'message ids continue');
is(dst("SELECT mq_publish('events', 'order.created', '{}')"),
	'1', 'the subscription is restored');
is( dst(
		q{SELECT string_agg(body->>'r', ',' ORDER BY position) FROM mq_consume('log', 'g', 10)}),
	'2,3', 'the consumer group continues where it was');
is( dst(
		q{SELECT position FROM mq_append('log', '{"r": 4}', key => 'a')}),
	'3', 'stream positions continue');
is( dst(
		q{SELECT count(mq_ack('orders', receipt)) FROM mq_read('orders', 100)}),
	'7', 'every restored message can be read and acked');

is(dst(q{SELECT mq_drop_queue('orders'); SELECT count(*) FROM mq_schedules WHERE target = 'orders'}),
	"t\n0", 'a restored schedule goes with its target');

$node->stop;
done_testing();
