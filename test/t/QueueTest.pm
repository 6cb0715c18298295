# Helpers shared by the TAP tests: a node with the queue library preloaded
# and the extension created in database "postgres".
package QueueTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%opts);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'queue'\n");
	$node->append_conf('postgresql.conf', "max_prepared_transactions = 10\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION queue');
	return $node;
}

1;
