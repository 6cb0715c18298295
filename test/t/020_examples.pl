# The examples under examples/ run as documented and show what they claim.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = $ENV{QUEUE_EXAMPLES} // die "QUEUE_EXAMPLES is not set";
my $node = QueueTest::new_node('examples');

# The outbox example, twice: it must be repeatable.
for my $round (1 .. 2)
{
	my ($ret, $out, $err) = $node->psql('postgres', undef,
		extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', "$dir/outbox.sql" ]);
	is($ret, 0, "outbox.sql runs (round $round)") or diag($err);
	like($out, qr/order 1001 sent as message (\d+)\nthe retry returned message \1 \(no second message\)/,
		"the retried send returns the first message's id (round $round)");
	like($out, qr/^1001\|book\|t$/m, "the order was shipped (round $round)");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM outbox_shipments'), '1',
	'shipped exactly once');
is($node->safe_psql('postgres',
	"SELECT depth FROM mq_queues WHERE queue = 'outbox_orders'"), '0',
	'the queue is empty');

$node->stop;
done_testing();
