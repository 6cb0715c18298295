# mq_stats: per-queue counters (sent, delivered, acked, nacked,
# dead_lettered, expired, rejected, appended, consumed, stats_reset) count
# the work of committed transactions only -- rolled-back transactions and
# savepoints count nothing, and an open transaction shows nothing to others
# yet.  mq_stats_reset() zeroes one queue or all.  The counters live in
# shared memory: after a restart (fast, immediate, or a crash) they start
# from zero.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('stats', restart_after_crash => 1);

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $columns = 'sent, delivered, acked, nacked, dead_lettered, expired, rejected,
               appended, consumed';

# The counters of one queue, joined by '|'.
sub stats
{
	my ($queue) = @_;
	return sql("SELECT $columns FROM mq_stats WHERE queue = '$queue'");
}

is( sql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
          WHERE attrelid = 'mq_stats'::regclass AND attnum > 0"),
	'queue,sent,delivered,acked,nacked,dead_lettered,expired,rejected,'
	  . 'appended,consumed,stats_reset',
	'mq_stats has the documented columns');

sql(q{SELECT mq_create_queue('dlq');
      SELECT mq_create_queue('s', max_deliveries => 2, dead_letter_queue => 'dlq');
      SELECT mq_create_queue('ttl', message_ttl => '1 second', dead_letter_queue => 'dlq');
      SELECT mq_create_queue('full', max_length => 1);
      SELECT mq_create_queue('ring', max_length => 1, overflow => 'drop_oldest');
      SELECT mq_create_topic('news');
      SELECT mq_subscribe('news', 'full')});
is( sql("SELECT string_agg(queue || ':' || ($columns)::text, ' ' ORDER BY queue)
           FROM mq_stats"),
	'dlq:(0,0,0,0,0,0,0,0,0) full:(0,0,0,0,0,0,0,0,0) ring:(0,0,0,0,0,0,0,0,0) '
	  . 's:(0,0,0,0,0,0,0,0,0) ttl:(0,0,0,0,0,0,0,0,0)',
	'new queues start at zero');

# Sends: committed ones count, rolled-back ones and rolled-back savepoints
# do not; an open transaction shows nothing to others.
sql(q{SELECT mq_send_batch('s', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[])});
sql(q{BEGIN; SELECT mq_send('s', '{"n": 99}'); ROLLBACK});
my $s = QueueTest::session($node);
QueueTest::session_query($s, 'BEGIN');
QueueTest::session_query($s, q{SELECT mq_send('s', '{"n": 4}')});
QueueTest::session_query($s, 'SAVEPOINT a');
QueueTest::session_query($s, q{SELECT mq_send('s', '{"n": 98}')});
QueueTest::session_query($s, 'ROLLBACK TO SAVEPOINT a');
is(stats('s'), '3|0|0|0|0|0|0|0|0', 'sends: an open transaction counts nothing yet');
QueueTest::session_query($s, 'COMMIT');
is(stats('s'), '4|0|0|0|0|0|0|0|0',
	'sends: committed ones count, rolled back ones and savepoints do not');

# Reads, acks, nacks, pops.
my ($r1, $r2) = split /\n/,
  sql("SELECT receipt FROM mq_read('s', 2, '1 hour') ORDER BY id");
sql("BEGIN; SELECT * FROM mq_read('s', 1, '1 hour'); ROLLBACK");
is(stats('s'), '4|2|0|0|0|0|0|0|0', 'reads: a rolled-back read does not count');
sql("SELECT mq_ack('s', $r1)");
sql("BEGIN; SELECT mq_ack('s', $r2); ROLLBACK");
is(stats('s'), '4|2|1|0|0|0|0|0|0', 'acks: a rolled-back ack does not count');
sql("SELECT mq_nack('s', $r2)");
is(stats('s'), '4|2|1|1|0|0|0|0|0', 'nack counted');
is(sql(q{SELECT body->>'n' FROM mq_pop('s')}), '2', 'pop takes the nacked message');
is(stats('s'), '4|3|2|1|0|0|0|0|0', 'a pop is a delivery and an ack');

# The third message was delivered once by the rolled-back read; one more
# delivery reaches max_deliveries, and its nack dead-letters it.
my $r3 = sql(q{SELECT receipt FROM mq_read('s', 1, '1 hour')});
sql("SELECT mq_nack('s', $r3)");
is(stats('s'), '4|4|2|2|1|0|0|0|0', 'a nack at max_deliveries: nacked and dead-lettered');
is((split /\|/, stats('dlq'))[0], '1', 'the dead-letter queue counts the arrival as sent');
is(sql("SELECT mq_redrive('dlq')"), '1', 'redrive moves the dead letter back');
is(stats('s'), '5|4|2|2|1|0|0|0|0', 'a redriven message counts as sent');

# The background worker expires messages; that counts too.
sql(q{SELECT mq_send('ttl', jsonb_build_object('n', i)) FROM generate_series(1, 2) i});
ok( defined QueueTest::poll_until($node, 'postgres',
		"SELECT expired FROM mq_stats WHERE queue = 'ttl'", '2', 30),
	'expiry by the worker counts as expired');
is(stats('ttl'), '2|0|0|0|0|2|0|0|0', 'ttl: sent and expired');
is((split /\|/, stats('dlq'))[0], '3', 'the expired messages arrive in the dead-letter queue');

# max_length: drop_oldest dead-letters, a rejected publish copy is counted
# (but not when the publishing transaction rolls back).
sql(q{SELECT mq_send('ring', '{"n": 1}');
      SELECT mq_send('ring', '{"n": 2}');
      SELECT mq_send('ring', '{"n": 3}')});
is(stats('ring'), '3|0|0|0|2|0|0|0|0', 'drop_oldest: the dropped messages count as dead-lettered');
is(sql(q{SELECT mq_publish('news', 'a', '{"n": 1}')}), '1', 'publish: first copy accepted');
is(sql(q{SELECT mq_publish('news', 'a', '{"n": 2}')}), '0', 'publish: second copy rejected');
sql(q{BEGIN; SELECT mq_publish('news', 'a', '{"n": 3}'); ROLLBACK});
is(stats('full'), '1|0|0|0|0|0|1|0|0', 'publish: one sent, one rejected');

# Reset one queue, then all.
my $before = sql("SELECT stats_reset FROM mq_stats WHERE queue = 's'");
sql("SELECT mq_stats_reset('s')");
is(stats('s'), '0|0|0|0|0|0|0|0|0', 'mq_stats_reset(queue) zeroes that queue');
is( sql("SELECT stats_reset > coalesce('$before'::timestamptz, '-infinity')
                AND stats_reset <= now()
           FROM mq_stats WHERE queue = 's'"),
	't', 'and sets its stats_reset');
is(stats('full'), '1|0|0|0|0|0|1|0|0', 'other queues keep their counters');
my ($state) = QueueTest::sql_error($node, "SELECT mq_stats_reset('nope')");
is($state, '42704', 'mq_stats_reset of an unknown queue raises 42704');
sql("SELECT mq_stats_reset()");
is( sql("SELECT count(*) FROM mq_stats
          WHERE ($columns) <> (0, 0, 0, 0, 0, 0, 0, 0, 0)"),
	'0', 'mq_stats_reset() zeroes every queue');
sql(q{SELECT mq_send('s', '{"n": 5}')});
is(stats('s'), '1|0|0|0|0|0|0|0|0', 'counting goes on after a reset');

# A queue dropped and created again under the same name starts at zero.
sql(q{SELECT mq_drop_queue('ring'); SELECT mq_create_queue('ring')});
is(stats('ring'), '0|0|0|0|0|0|0|0|0', 'a re-created queue starts at zero');

# After a restart every counter starts from zero; the messages stay.  (A
# queue without policies, so that the worker has nothing to do after the
# restart.)
sql("SELECT mq_create_queue('plain')");
for my $how ('fast', 'immediate', 'crash')
{
	sql(q{SELECT mq_send('plain', '{"n": 1}');
	      SELECT mq_read('plain', 1, '1 hour')});
	is(stats('plain'), '1|1|0|0|0|0|0|0|0', "$how restart: counters before");
	my $depth = sql("SELECT depth FROM mq_queues WHERE queue = 'plain'");
	QueueTest::restart($node, $how);
	is( sql("SELECT count(*) FROM mq_stats
	          WHERE ($columns) <> (0, 0, 0, 0, 0, 0, 0, 0, 0)"),
		'0', "$how restart: every counter is zero");
	is(sql("SELECT depth FROM mq_queues WHERE queue = 'plain'"),
		$depth, "$how restart: the messages are still there");
}

QueueTest::session_close($s);
$node->stop;
done_testing();
