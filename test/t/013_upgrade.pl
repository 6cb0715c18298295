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
	SELECT mq_send('dead', '{"delayed": true}', delay => '1 hour');
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
	GRANT EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	                                          text, int, interval, boolean, boolean) TO app_owner;
});

$node->safe_psql('updated', 'ALTER EXTENSION queue UPDATE');
is($node->safe_psql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'queue'"),
	$default, "updated from $oldest to the default version $default");

# EXECUTE granted on mq_create_queue is kept when the update gives it new
# arguments (then revoked, so that the grants compare with a fresh install).
is( $node->safe_psql(
		'updated', q{
	SELECT has_function_privilege('app_owner', 'mq_create_queue(text, interval, int, text,
	         interval, bigint, text, int, interval, boolean, boolean, int, float8, interval, text,
	         interval, float8, boolean, boolean)', 'EXECUTE');
	REVOKE EXECUTE ON FUNCTION mq_create_queue(text, interval, int, text, interval, bigint,
	         text, int, interval, boolean, boolean, int, float8, interval, text, interval, float8,
	         boolean, boolean) FROM app_owner}),
	't', 'a grant of mq_create_queue is kept by the update');

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

# Queues from before the update get the index that counts delayed messages.
is( $node->safe_psql(
		'updated', q{
	SELECT count(*) FROM pg_indexes
	 WHERE schemaname = 'mq' AND indexname ~ '^q_[0-9]+_delayed$'
	   AND indexdef LIKE '%(visible_at) WHERE (visible_at > enqueued_at)'}),
	'3', 'every queue has its delay index');
is($node->safe_psql('updated', "SELECT depth || ',' || delayed FROM mq_queues WHERE queue = 'dead'"),
	'1,1', 'a message delayed before the update counts as delayed');

# Queues from before the update hold NULL bodies: their storage column
# allows NULL, so a NULL body sent or moved there is kept (and dumped).
is( $node->safe_psql(
		'updated', q{
	SELECT count(*) FROM pg_attribute
	 WHERE attrelid::regclass::text ~ '^mq\.q_[0-9]+$' AND attname = 'body' AND NOT attnotnull}),
	'3', 'every queue from before the update allows NULL bodies in its storage');

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

# Grants made under 0.3.0, which kept them as aclitem[], are carried over
# by the update to 0.4.0.  Until the update the new library checks them
# (from the aclitem[]) and refuses to change them.
$node->safe_psql('postgres', q{
	CREATE ROLE g_owner; CREATE ROLE app_sender; CREATE ROLE "App Reader"; CREATE ROLE app_manager; CREATE ROLE app_none;
	CREATE DATABASE granted});
$node->safe_psql(
	'granted', q{
	CREATE EXTENSION queue VERSION '0.3.0';
	SELECT mq_create_queue('gq');
	SELECT mq_create_topic('gt');
	SELECT mq_create_stream('gs');
	-- What mq_grant of 0.3.0 wrote (one aclitem per grantee, granted by the
	-- owner; send INSERT, read SELECT, manage UPDATE): this library no
	-- longer writes that form.
	UPDATE mq.objects o SET owner = 'g_owner', acl = g.acl
	  FROM (VALUES
	    ('gq', ARRAY['app_sender=a/g_owner'::aclitem,
	                 '"App Reader"=ar/g_owner'::aclitem,
	                 'app_manager=w/g_owner'::aclitem]),
	    ('gt', ARRAY['app_sender=a/g_owner'::aclitem]),
	    ('gs', ARRAY['"App Reader"=r/g_owner'::aclitem,
	                 'app_manager=arw/g_owner'::aclitem])
	  ) g (name, acl)
	 WHERE o.name = g.name});
my $grant_list = q{
	SELECT string_agg(object || ':' || owner || ':' || grantee || ':' || array_to_string(privileges, '+'),
	                  ',' ORDER BY object, grantee::text)
	  FROM mq_grants};
my $shdepend = q{
	SELECT string_agg(objid || ':' || refobjid::regrole || ':' || deptype::text, ',' ORDER BY objid, refobjid::regrole::text)
	  FROM pg_shdepend
	 WHERE classid = 'pg_extension'::regclass
	   AND objid IN (SELECT id FROM mq.objects)
	   AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())};
my $grants_before = $node->safe_psql('granted', $grant_list);
my $deps_before = $node->safe_psql('granted', $shdepend);
like($grants_before, qr/gq:g_owner:"App Reader":send\+read/, 'grants made under 0.3.0');
is($node->safe_psql('granted', "SET ROLE app_sender; SELECT mq_send('gq', '{}') > 0"),
	't', 'before the update, a grant in the aclitem[] still lets its role send');
($ret, $out, $err) = $node->psql('granted', "SET ROLE app_none; SELECT mq_send('gq', '{}')");
like($err, qr/permission denied for queue "gq"/, 'before the update, a role without a grant is refused');
($ret, $out, $err) = $node->psql('granted', "SELECT mq_grant('gq', 'app_none', '{send}')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000.*older than its library.*ALTER EXTENSION queue UPDATE/s,
	'before the update, grants cannot change (55000, with the hint)');
is($node->safe_psql('granted', "SET ROLE app_manager; SELECT string_agg(DISTINCT object, ',') FROM mq_grants"),
	'gq,gs', 'before the update, the views show a grantee its objects');

$node->safe_psql('granted', 'ALTER EXTENSION queue UPDATE');
is($node->safe_psql('granted', $grant_list), $grants_before, 'every grant is kept by the update');
is($node->safe_psql('granted', $shdepend), $deps_before, 'the same pg_shdepend rows');
is($node->safe_psql('granted', $describe), $fresh, 'the objects of a fresh install');
is( $node->safe_psql(
		'granted', q{
	SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	 WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
	   AND a.atttypid IN ('aclitem'::regtype, 'aclitem[]'::regtype) AND NOT a.attisdropped}),
	'0', 'no aclitem column is left for pg_upgrade to refuse');
is( $node->safe_psql(
		'granted', q{
	SET ROLE "App Reader";
	SELECT count(*) FROM (SELECT mq_ack('gq', receipt) FROM mq_read('gq', 10)) a;
	RESET ROLE; SET ROLE app_manager;
	SELECT mq_revoke('gq', 'app_sender', '{send}');
	SELECT mq_grant('gq', 'app_none', '{read}');
	RESET ROLE; SET ROLE app_none;
	SELECT count(*) FROM mq_peek('gq')}),
	"1\n\n\n0", 'after the update, grants act and change as before');
($ret, $out, $err) = $node->psql('granted', "SET ROLE app_sender; SELECT mq_send('gq', '{}')");
like($err, qr/permission denied for queue "gq"/, 'a revoked grant is gone');
($ret, $out, $err) = $node->psql('granted', 'DROP ROLE app_none');
like($err, qr/It holds privileges on queue gq/, 'a grantee cannot be dropped');
$node->safe_psql('granted', q{
	CREATE ROLE new_owner;
	REASSIGN OWNED BY g_owner TO new_owner});
like($node->safe_psql('granted', $grant_list), qr/^gq:new_owner:"App Reader":send\+read,/,
	'REASSIGN OWNED hands the objects over with their grants');
$node->safe_psql('granted', q{
	DROP OWNED BY app_none, app_sender, "App Reader", app_manager;
	DROP ROLE app_none, app_sender, "App Reader", app_manager, g_owner});
is($node->safe_psql('granted', "SELECT count(*) FROM mq_grants WHERE grantee IS NOT NULL"),
	'0', 'DROP OWNED revokes every grant, and the roles can go');

# A queue made before 0.4.0 has its group key column and index after the
# update, and message groups work in it.
is( $node->safe_psql(
		'granted', q{
	SELECT mq_send('gq', '"k1"', group_key => 'k') > 0;
	SELECT mq_send('gq', '"k2"', group_key => 'k') > 0;
	SELECT string_agg(body #>> '{}', ',') FROM mq_read('gq', 10) WHERE group_key = 'k';
	SELECT ready || '/' || inflight FROM mq_message_groups WHERE queue = 'gq'}),
	"t\nt\nk1\n1/1", 'a queue made before the update takes message groups after it');

$node->stop;
done_testing();
