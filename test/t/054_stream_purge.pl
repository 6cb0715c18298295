# mq_purge of a stream keeps positions going across a restart: the
# partitions' floors are raised before the records go, so a counter
# rebuilt from storage after a crash does not hand out a position again.
# An append that commits after the purge ran keeps its record.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('stream_purge');
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
	SELECT mq_create_stream('pg_log', partitions => 2);
	SELECT mq_create_group('pg_log', 'g');
	SELECT count(*) FROM mq_append_batch('pg_log',
	    (SELECT array_agg(jsonb_build_object('n', g)) FROM generate_series(1, 10) g),
	    (SELECT array_agg(CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END) FROM generate_series(1, 10) g));
});
my $next = sql(q{SELECT string_agg(partition || ':' || next_position, ',' ORDER BY partition)
                   FROM mq_streams WHERE stream = 'pg_log'});

# An append in progress while the purge runs survives it.
my $s = QueueTest::session($node);
$s->query_safe('BEGIN');
$s->query_safe(q{SELECT * FROM mq_append('pg_log', '{"late": true}', key => 'a')});
is(sql(q{SELECT mq_purge('pg_log')}), '10', 'the purge deletes the ten committed records');
$s->query_safe('COMMIT');
QueueTest::session_close($s);
is(sql(q{SELECT string_agg(body::text, ',') FROM mq_consume('pg_log', 'g', 100)}),
	'{"late": true}', 'the append that committed after the purge is kept and consumed');

# Crash: the counters are rebuilt from storage and the floors.
sql(q{SELECT mq_purge('pg_log')});
$node->stop('immediate');
$node->start;
my $after = sql(q{SELECT string_agg(partition || ':' || position, ',' ORDER BY partition)
                    FROM (SELECT * FROM mq_append('pg_log', '{}', key => 'a')
                          UNION ALL SELECT * FROM mq_append('pg_log', '{}', key => 'b')) a});
my %before = map { split /:/ } split /,/, $next;
my %now = map { split /:/ } split /,/, $after;
# Partition of key 'a' had one more (the late append) before the purge.
my $ok = 1;
for my $p (keys %now)
{
	$ok = 0 if $now{$p} < $before{$p};
}
ok($ok, "positions continue after a purge and a crash (before: $next, first after: $after)");
is(sql(q{SELECT count(*) FROM mq_consume('pg_log', 'g', 100)}), '2',
	'the group reads only what was appended after');

$node->stop;
done_testing();
