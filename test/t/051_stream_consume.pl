# Consuming streams with long polls, and group positions across a crash
# (SPEC section 5).
#
#   - a consume with wait sleeps until an append commits and returns right
#     after the commit, never before it (the append's transaction holds
#     its position until then); its wait ends by itself otherwise;
#   - while it sleeps it holds no claim: another member of the group
#     consumes the partition meanwhile;
#   - the position of a committed consume survives an immediate shutdown,
#     that of a consume in progress does not: its records come again.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = QueueTest::new_node('consume');
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{SELECT mq_create_stream('events')});
sql(q{SELECT mq_create_group('events', 'g')});

my $waiter = QueueTest::session($node);
my ($pid) = QueueTest::session_query($waiter, 'SELECT pg_backend_pid()');
my $waiting = q{SELECT extract(epoch FROM clock_timestamp()),
                       coalesce(string_agg(body::text, ',' ORDER BY "position"), '')
                  FROM mq_consume('events', 'g', 10, wait => '20 seconds')};

# An append in an open transaction does not wake the waiter; its commit does.
QueueTest::session_start($waiter, $waiting);
ok(defined QueueTest::wait_until_sleeping($node, $pid), 'the consumer sleeps in its long poll');
my $producer = QueueTest::session($node);
QueueTest::session_query($producer, 'BEGIN');
QueueTest::session_query($producer, q{SELECT * FROM mq_append('events', '"e1"')});
usleep(300_000);
ok(!QueueTest::session_done($waiter), 'an append not yet committed does not end the wait');
my ($committed) = QueueTest::session_query($producer,
	'COMMIT; SELECT extract(epoch FROM clock_timestamp())');
my ($out, $err, $state) = QueueTest::session_result($waiter, 30);
my ($returned, $bodies) = split /\|/, $out;
is($bodies, '"e1"', 'the waiter gets the record');
cmp_ok($returned - $committed, '<', 1, 'soon after the commit')
  or diag("returned $returned, committed $committed");
cmp_ok($returned, '>=', $committed - 0.05, 'not before it');

# Waiting ends by itself.
my $t0 = QueueTest::server_time($node);
($out) = QueueTest::session_query($waiter, q{SELECT count(*) FROM mq_consume('events', 'g', wait => '300 milliseconds')});
my $t1 = QueueTest::server_time($node);
is($out, '0', 'an empty wait returns nothing');
cmp_ok($t1 - $t0, '>=', 0.29, 'after its wait');

# A waiting consume holds no claim: another member consumes meanwhile.
QueueTest::session_query($waiter, 'BEGIN');
QueueTest::session_start($waiter, q{SELECT count(*) FROM mq_consume('events', 'g', wait => '3 seconds')});
ok(defined QueueTest::wait_until_sleeping($node, $pid), 'a member waits inside its transaction');
sql(q{SELECT * FROM mq_append('events', '"e2"')});
# The waiter may win the race for "e2"; then nothing is left for the other.
my $other = sql(q{SELECT coalesce(string_agg(body::text, ','), '') FROM mq_consume('events', 'g', 10)});
($out) = QueueTest::session_result($waiter, 30);
is(($other eq '"e2"' ? 1 : 0) + $out, 1, 'exactly one of the two members got the record');
QueueTest::session_query($waiter, 'COMMIT');
sql(q{SELECT * FROM mq_append('events', '"e3"')});
QueueTest::session_query($waiter, 'BEGIN');
QueueTest::session_start($waiter, q{SELECT count(*) FROM mq_consume('events', 'g', wait => '20 seconds')});
ok(defined QueueTest::session_result($waiter, 30), 'a member consumes and keeps its claim');
is(sql(q{SELECT count(*) FROM mq_consume('events', 'g', 10, wait => '200 milliseconds')}), '0',
	'the other member finds the partition claimed and does not wait for it');
QueueTest::session_query($waiter, 'ROLLBACK');
is(sql(q{SELECT string_agg(body::text, ',') FROM mq_consume('events', 'g', 10)}), '"e3"',
	'after the rollback the record comes again');

# Positions across an immediate shutdown.
sql(q{SELECT count(*) FROM mq_append_batch('events', ARRAY['"e4"', '"e5"', '"e6"']::jsonb[])});
is(sql(q{SELECT string_agg(body::text, ',' ORDER BY "position") FROM mq_consume('events', 'g', 1)}),
	'"e4"', 'a committed consume');
QueueTest::session_query($waiter, 'BEGIN');
($out) = QueueTest::session_query($waiter,
	q{SELECT string_agg(body::text, ',' ORDER BY "position") FROM mq_consume('events', 'g', 10)});
is($out, '"e5","e6"', 'a consume in progress');
$node->stop('immediate');
$node->start;
eval { $waiter->quit };
eval { $producer->quit };
is(sql(q{SELECT string_agg(body::text, ',' ORDER BY "position") FROM mq_consume('events', 'g', 10)}),
	'"e5","e6"', 'after the crash: the committed position held, the uncommitted one did not');
is(sql(q{SELECT "position", lag FROM mq_groups WHERE consumer_group = 'g'}), '6|0',
	'the group is at the end');

$node->stop;
done_testing();
