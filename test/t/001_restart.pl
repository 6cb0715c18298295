# Committed messages survive a clean and an immediate shutdown with every
# field intact (body, headers, priority, enqueue time, delay, delivery
# order); messages of transactions that were open or prepared at the time
# of the shutdown are not there, and a prepared send can still be committed
# after the restart.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('restart');
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('q');
	SELECT mq_send('q', jsonb_build_object('n', i), jsonb_build_object('h', i),
				   priority => i % 3)
	  FROM generate_series(1, 100) i;
	SELECT mq_send('q', '{"late": true}', delay => '1 hour');
});
my $table = QueueTest::storage_table($node, 'q');

# Everything a reader can see, in delivery order, and every stored row.
my $peek_sql = q{
	SELECT id, body, headers, deliveries, priority, enqueued_at, visible_at
	  FROM mq_peek('q', 1000)};
my $rows_sql = "SELECT * FROM $table ORDER BY id";
my $figures_sql = "SELECT depth, ready, inflight, delayed FROM mq_queues
	 WHERE queue = 'q'";

my $peek = $node->safe_psql('postgres', $peek_sql);
my $rows = $node->safe_psql('postgres', $rows_sql);
is(scalar(split /\n/, $peek), 100, '100 ready messages before any restart');
is($node->safe_psql('postgres', $figures_sql),
	'101|100|0|1', 'figures before any restart');

for my $mode ('fast', 'immediate')
{
	$node->stop($mode);
	$node->start;
	is($node->safe_psql('postgres', $peek_sql),
		$peek, "$mode shutdown: ready messages and their order unchanged");
	is($node->safe_psql('postgres', $rows_sql),
		$rows, "$mode shutdown: stored rows unchanged");
	is($node->safe_psql('postgres', $figures_sql),
		'101|100|0|1', "$mode shutdown: delayed message still delayed");
}

# Sends of an open transaction and of a prepared one when the server stops
# immediately: neither is visible afterwards; the prepared one can still be
# committed.
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
my $open_ids = $open->query_safe(
	"SELECT string_agg(mq_send('q', '{\"open\": true}')::text, ',')
	   FROM generate_series(1, 5)");
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT mq_send('q', '{"prepared": true}') FROM generate_series(1, 5);
	PREPARE TRANSACTION 'p1';
});

$node->stop('immediate');
$open->quit;
$node->start;

is($node->safe_psql('postgres', $rows_sql),
	$rows, 'open and prepared sends are not stored visibly after a crash');
is($node->safe_psql('postgres', $figures_sql),
	'101|100|0|1', 'figures ignore open and prepared sends');
is($node->safe_psql('postgres', "SELECT count(*) FROM $table WHERE id IN ($open_ids)"),
	'0', 'sends of the open transaction are gone');
is($node->safe_psql('postgres', 'SELECT gid FROM pg_prepared_xacts'),
	'p1', 'the prepared transaction survived');

$node->safe_psql('postgres', "COMMIT PREPARED 'p1'");
is($node->safe_psql('postgres', $figures_sql),
	'106|105|0|1', 'prepared sends are there once committed');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*), min(deliveries), max(deliveries)
		    FROM mq_read('q', 1000, '1 hour') WHERE body ? 'prepared'}),
	'5|1|1',
	'prepared sends can be read once committed');

# New sends after the restarts do not reuse ids.
is( $node->safe_psql(
		'postgres',
		"SELECT mq_send('q', '{}') > (SELECT max(id) FROM $table)"),
	't',
	'ids keep increasing after restarts');

$node->stop;
done_testing();
