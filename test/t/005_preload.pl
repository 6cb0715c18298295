# The extension needs shared_preload_libraries = 'queue'.  Without it,
# CREATE EXTENSION fails with SQLSTATE 55000, a message saying so and a hint
# naming the setting, and leaves nothing behind; a server that loses the
# setting later refuses every call the same way and keeps the messages,
# which are there again once the setting is back.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('no_preload', preload => 0);

sub check_refusal
{
	my ($sql, $what) = @_;
	my ($state, $err) = QueueTest::sql_error($node, $sql);
	is($state, '55000', "$what: SQLSTATE 55000");
	like($err, qr/\bERROR:\s+55000:[^\n]*shared_preload_libraries/,
		"$what: the message names shared_preload_libraries");
	like($err, qr/^HINT:.*shared_preload_libraries/m,
		"$what: the hint names shared_preload_libraries");
	return;
}

check_refusal('CREATE EXTENSION queue', 'CREATE EXTENSION without preloading');
is( $node->safe_psql(
		'postgres', q{
		SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'queue'),
		       (SELECT count(*) FROM pg_namespace WHERE nspname = 'mq'),
		       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'mq\_%')}),
	'0|0|0',
	'a failed CREATE EXTENSION leaves nothing behind');
check_refusal(q{LOAD 'queue'}, 'LOAD without preloading');

# With the setting the same server takes the extension.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION queue');
$node->safe_psql('postgres',
	q{SELECT mq_create_queue('q'); SELECT mq_send('q', '{"kept": true}')});
my $table = QueueTest::storage_table($node, 'q');

# The setting is lost: every entry point refuses, nothing is lost.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
check_refusal(q{SELECT mq_send('q', '{}')}, 'mq_send after losing the setting');
check_refusal(q{SELECT * FROM mq_read('q')}, 'mq_read after losing the setting');
check_refusal(q{SELECT * FROM mq_queues}, 'mq_queues after losing the setting');
is($node->safe_psql('postgres', "SELECT body FROM $table"),
	'{"kept": true}', 'the stored message is untouched');

# Back again.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'");
$node->restart;
is( $node->safe_psql(
		'postgres', q{
		SELECT body, deliveries, mq_ack('q', receipt) FROM mq_read('q')}),
	'{"kept": true}|1|t',
	'the message is read and acked once the setting is back');

$node->stop;
done_testing();
