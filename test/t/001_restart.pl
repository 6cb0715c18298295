# Committed sends survive an immediate shutdown and restart.
use strict;
use warnings;
use QueueTest;
use Test::More;

my $node = QueueTest::new_node('restart');
$node->safe_psql('postgres', "SELECT mq_create_queue('q')");
$node->safe_psql('postgres', "SELECT mq_send('q', jsonb_build_object('n', i)) FROM generate_series(1, 100) i");
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM mq_peek('q', 1000)"), '100', 'all sends survive');
done_testing();
