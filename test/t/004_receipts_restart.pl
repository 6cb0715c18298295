# Receipts issued after a restart are greater than every receipt issued
# before it, whatever the restart: clean shutdown, immediate shutdown, or a
# backend crash that makes the postmaster reinitialise shared memory.  So a
# receipt from before a restart can never name a later delivery.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('receipts', restart_after_crash => 1);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('q');
	SELECT mq_send_batch('q', array_agg(jsonb_build_object('n', i)))
	  FROM generate_series(1, 1000) i;
	CREATE TABLE issued (receipt bigint NOT NULL, epoch int NOT NULL, round int NOT NULL);
});

# Lease every message and record the receipts, then nack them all; three
# rounds, so 3000 receipts per epoch.
sub issue
{
	my ($epoch) = @_;
	for my $round (1 .. 3)
	{
		is( $node->safe_psql(
				'postgres', qq{
				INSERT INTO issued
				SELECT receipt, $epoch, $round FROM mq_read('q', 1000, '1 hour');
				SELECT count(*) FILTER (WHERE mq_nack('q', receipt)) FROM issued
				 WHERE epoch = $epoch AND round = $round;
			}),
			'1000',
			"epoch $epoch round $round: 1000 receipts issued and nacked");
	}
	return;
}

issue(0);
my $epoch = 0;
for my $restart ('fast', 'immediate', 'crash')
{
	if ($restart eq 'crash')
	{
		QueueTest::crash_backend($node);
	}
	else
	{
		$node->stop($restart);
		$node->start;
	}
	$epoch++;
	issue($epoch);
	is( $node->safe_psql(
			'postgres', qq{
			SELECT min(receipt) FILTER (WHERE epoch = $epoch)
			     > max(receipt) FILTER (WHERE epoch < $epoch)
			  FROM issued}),
		't',
		"$restart: receipts after the restart are greater than every earlier one");
}

is( $node->safe_psql(
		'postgres',
		'SELECT count(*), count(DISTINCT receipt), min(receipt) > 0 FROM issued'),
	'12000|12000|t',
	'every receipt is distinct and positive');

$node->stop;
done_testing();
