# The update path: install the oldest kept version, put data in every kind
# of object, ALTER EXTENSION queue UPDATE, and check that
#   - the extension is at the default version,
#   - its objects are exactly those of a fresh install of that version
#     (functions with their definitions, views, types, tables, columns,
#     indexes, grants), so no update script is missing or differs,
#   - the data is all there and every kind of object goes on working.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('upgrade', extension => 0);

my $oldest = '0.1.0';
my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'queue'");
my @versions = split /\n/,
  $node->safe_psql('postgres',
	"SELECT version FROM pg_available_extension_versions WHERE name = 'queue' ORDER BY version");
ok((grep { $_ eq $oldest } @versions), "version $oldest is installable (have: @versions)");

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE updated');
$node->safe_psql('fresh', 'CREATE EXTENSION queue');
$node->safe_psql('updated', "CREATE EXTENSION queue VERSION '$oldest'");
$node->safe_psql('postgres', 'CREATE ROLE app_owner');

# Data in every kind of object, under the oldest version.
$node->safe_psql(
	'updated', q{
	SELECT mq_create_queue('dead');
	SELECT mq_create_queue('orders', max_deliveries => 3, dead_letter_queue => 'dead',
	                       dedup_window => '1 hour');
	SELECT mq_send('orders', jsonb_build_object('n', g), idempotency_key => 'k' || g)
	  FROM generate_series(1, 5) g;
	SELECT count(*) FROM mq_read('orders', 2, '1 hour');
	SELECT mq_create_topic('events');
	SELECT mq_subscribe('events', 'orders', 'order.#');
	SELECT mq_publish('events', 'order.created', '{"n": 6}');
	SELECT mq_create_stream('log', partitions => 2);
	SELECT mq_create_group('log', 'g');
	SELECT count(*) FROM mq_append_batch('log', ARRAY['{"r": 1}', '{"r": 2}', '{"r": 3}']::jsonb[],
	                                     ARRAY['a', 'a', 'a']);
	SELECT count(*) FROM mq_consume('log', 'g', 1);
	GRANT EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	                                          text, int, interval, boolean, boolean) TO app_owner;
	SET ROLE app_owner;
	SELECT mq_create_queue('owned');
	RESET ROLE;
	REVOKE EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	                                           text, int, interval, boolean, boolean) FROM app_owner;
});

$node->safe_psql('updated', 'ALTER EXTENSION queue UPDATE');
is($node->safe_psql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'queue'"),
	$default, "updated from $oldest to the default version $default");

# Everything the extension owns, described the same way in both databases.
my $describe = q{
	SELECT string_agg(d, E'\n' ORDER BY d) FROM (
	  SELECT pg_describe_object(classid, objid, objsubid) || ' ' ||
	         coalesce(CASE classid
	           WHEN 'pg_proc'::regclass THEN pg_get_functiondef(objid)
	           WHEN 'pg_class'::regclass THEN
	             (SELECT relkind::text || ' ' || coalesce(pg_get_viewdef(objid), '') || ' ' ||
	                     coalesce((SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod)
	                                                 || ':' || attnotnull::text, ',' ORDER BY attnum)
	                                 FROM pg_attribute WHERE attrelid = objid AND attnum > 0
	                                  AND NOT attisdropped), '') || ' ' ||
	                     coalesce((SELECT string_agg(pg_get_indexdef(indexrelid), ';' ORDER BY pg_get_indexdef(indexrelid))
	                                 FROM pg_index WHERE indrelid = objid), '') || ' ' ||
	                     coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), ';' ORDER BY t.tgname)
	                                 FROM pg_trigger t WHERE t.tgrelid = objid
	                                  AND NOT t.tgisinternal), '') || ' ' ||
	                     coalesce(relacl::text, '')
	                FROM pg_class WHERE oid = objid)
	           WHEN 'pg_type'::regclass THEN format_type(objid, NULL)
	         END, '') AS d
	    FROM pg_depend
	   WHERE refclassid = 'pg_extension'::regclass
	     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'queue')
	     AND deptype = 'e') s};
my $fresh = $node->safe_psql('fresh', $describe);
my $updated = $node->safe_psql('updated', $describe);
ok(length($fresh) > 1000, 'the fresh install has its objects');
is($updated, $fresh, 'the updated extension has exactly the objects of a fresh install');

# Function grants (EXECUTE revoked from PUBLIC on the create functions).
my $grants = q{
	SELECT string_agg(p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, ''), E'\n' ORDER BY p.oid::regprocedure::text)
	  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'queue') AND d.deptype = 'e'};
is($node->safe_psql('updated', $grants), $node->safe_psql('fresh', $grants),
	'the same function privileges');

# Objects created before privileges existed keep their owners, now with
# the pg_shdepend rows that hold the roles.
is( $node->safe_psql(
		'updated', q{
	SELECT string_agg(object || ':' || owner, ',' ORDER BY object) FROM mq_grants
	 WHERE object IN ('owned', 'orders')}),
	'orders:postgres,owned:app_owner', 'owners are kept');
my ($ret, $out, $err) = $node->psql('updated', 'DROP ROLE app_owner');
like($err, qr/cannot be dropped because queue objects depend on it.*It owns queue owned/s,
	'the owner of an object from before the update cannot be dropped');

# The data is there and every kind of object works on.
is($node->safe_psql('updated', "SELECT depth FROM mq_queues WHERE queue = 'orders'"),
	'6', 'the queue kept its messages');
is( $node->safe_psql(
		'updated', q{
	SELECT string_agg(body->>'n', ',' ORDER BY id)
	  FROM (SELECT id, body, mq_ack('orders', receipt) FROM mq_read('orders', 10)) a}),
	'3,4,5,6', 'the messages not leased are read and acked');
is($node->safe_psql('updated', "SELECT mq_send('orders', '{}', idempotency_key => 'k1')"),
	'1', 'an idempotency key from before the update still finds its message');
is( $node->safe_psql(
		'updated', q{
	SELECT string_agg(body->>'r', ',' ORDER BY position) FROM mq_consume('log', 'g', 10)}),
	'2,3', 'the group continues where it was');
is( $node->safe_psql(
		'updated', q{
	SELECT mq_publish('events', 'order.paid', '{}');
	SELECT count(*) FROM mq_append('log', '{"r": 4}');
	SELECT mq_drop_stream('log');
	SELECT mq_drop_topic('events');
	SELECT mq_drop_queue('orders');
	SELECT count(*) FROM mq_queues}),
	"1\n1\nt\nt\nt\n2", 'publish, append and every drop work after the update');

$node->stop;
done_testing();
