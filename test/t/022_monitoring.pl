# contrib/prometheus/queries.yaml: every query runs, returns exactly the
# columns its metrics name, labels first as text and numbers for the rest,
# and a monitoring role (a member of pg_monitor, not a superuser, no
# grants) sees every object.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $file = ($ENV{QUEUE_EXAMPLES} // die "QUEUE_EXAMPLES is not set") . '/../contrib/prometheus/queries.yaml';
-f $file or $file = "$ENV{QUEUE_ROOT}/contrib/prometheus/queries.yaml";

# The blocks of the file: name, query, metrics in order with their usage.
my (@blocks, $block, $metric);
open my $fh, '<', $file or die "cannot open $file: $!";
while (my $line = <$fh>)
{
	next if $line =~ /^\s*(#|$)/;
	if ($line =~ /^(\w+):\s*$/) { $block = { name => $1, metrics => [] }; push @blocks, $block; }
	elsif ($line =~ /^\s+query:\s*"(.*)"\s*$/) { $block->{query} = $1; }
	elsif ($line =~ /^\s+- (\w+):\s*$/) { $metric = { name => $1 }; push @{ $block->{metrics} }, $metric; }
	elsif ($line =~ /^\s+usage:\s*"(\w+)"/) { $metric->{usage} = $1; }
}
close $fh;
ok(@blocks >= 4, 'the file has its query blocks');

my $node = QueueTest::new_node('monitoring');
$node->safe_psql(
	'postgres', q{
	CREATE ROLE exporter LOGIN IN ROLE pg_monitor;
	SELECT mq_create_queue('orders');
	SELECT count(*) FROM mq_send_batch('orders', array_fill('{}'::jsonb, ARRAY[5]));
	SELECT count(*) FROM mq_read('orders', 2);
	SELECT mq_create_stream('clicks', partitions => 2);
	SELECT count(*) FROM mq_append_batch('clicks', array_fill('{}'::jsonb, ARRAY[10]));
	SELECT mq_create_group('clicks', 'g');
});

for my $b (@blocks)
{
	my @names = map { $_->{name} } @{ $b->{metrics} };
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET ROLE exporter; COPY ($b->{query}) TO STDOUT WITH (FORMAT csv, HEADER)");
	is($ret, 0, "$b->{name}: the query runs as a pg_monitor member") or diag($err);
	my @lines = split /\n/, $out;
	is(shift(@lines) // '', join(',', @names), "$b->{name}: the columns are the metrics, in order");
	ok(@lines > 0, "$b->{name}: rows are visible to the monitoring role");
	my $bad = 0;
	for my $row (@lines)
	{
		my @v = split /,/, $row, -1;
		for my $i (0 .. $#names)
		{
			my $usage = $b->{metrics}[$i]{usage} // '';
			$bad++ if $usage ne 'LABEL' && $v[$i] !~ /^-?[0-9]+(\.[0-9]+)?$/;
			$bad++ if $usage eq 'LABEL' && $v[$i] eq '';
		}
	}
	is($bad, 0, "$b->{name}: labels are set and every metric is a number");
}

$node->stop;
done_testing();
