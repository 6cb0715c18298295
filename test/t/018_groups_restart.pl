# Message groups across restarts and crashes (SPEC section 3a).
#
# Order and allowance survive a restart: leases do not, so nothing is in
# flight after it, and each group's head is its oldest unacked message --
# after a clean shutdown, an immediate one and a backend crash.  A poison
# message at a group's head -- one that crashes the server on every
# delivery -- reaches the dead-letter queue with its group key once it has
# had max_deliveries, and the group moves on to its next message.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = QueueTest::new_node('groups_restart', restart_after_crash => 1);

sub sql { return $node->safe_psql('postgres', $_[0]); }

for my $how ('fast', 'immediate', 'crash')
{
	my $q = "gr_$how";
	sql(qq{
		SELECT mq_create_queue('$q');
		SELECT mq_send('$q', to_jsonb(m), group_key => left(m, 1))
		  FROM unnest(ARRAY['a1', 'a2', 'a3', 'b1', 'b2', 'c1']) m;
	});
	# a1 and b1 read, a1 acked: then a2 and c1 read.
	is( sql(qq{WITH r AS (SELECT * FROM mq_read('$q', 2, vt => '1 hour'))
	           SELECT string_agg(body #>> '{}', ',' ORDER BY id),
	                  (SELECT mq_ack('$q', receipt) FROM r WHERE body = '"a1"')
	             FROM r}),
		'a1,b1|t', "$how: the heads of a and b read, a1 acked");
	is(sql(qq{SELECT string_agg(body #>> '{}', ',' ORDER BY id)
	            FROM mq_read('$q', 10, vt => '1 hour')}),
		'a2,c1', "$how: a's next, and c");
	is(sql(qq{SELECT inflight FROM mq_queues WHERE queue = '$q'}),
		'3', "$how: three in flight before");

	QueueTest::restart($node, $how);

	is(sql(qq{SELECT inflight FROM mq_queues WHERE queue = '$q'}),
		'0', "$how: nothing in flight after");
	is( sql(qq{SELECT string_agg(group_key || ':' || ready || '/' || inflight, ',' ORDER BY group_key)
	             FROM mq_message_groups WHERE queue = '$q'}),
		'a:2/0,b:2/0,c:1/0', "$how: every group ready");
	is(sql(qq{SELECT string_agg(body #>> '{}', ',' ORDER BY id)
	            FROM mq_read('$q', 10, vt => '1 hour')}),
		'a2,b1,c1', "$how: each group's oldest unacked message is its head");
	is(sql(qq{SELECT count(*) FROM mq_read('$q', 10)}), '0',
		"$how: one of each group in flight, no more");
}

# An ack that never commits has already let the group's next message in,
# in place (storage.c, "Promotion in place"), and that write is on disk
# when the server crashes: after the restart the acked message is the
# group's head again and its next is not deliverable; once the head is
# acked, the next comes.
sql(q{
	SELECT mq_create_queue('gr_inplace');
	SELECT mq_send('gr_inplace', to_jsonb(m), group_key => 'a')
	  FROM unnest(ARRAY['a1', 'a2', 'a3']) m;
});
my $table = sql(q{SELECT 'mq.q_' || id FROM mq.objects WHERE name = 'gr_inplace'});
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe(q{SELECT mq_ack('gr_inplace', receipt) FROM mq_read('gr_inplace', 1)});
sql('CHECKPOINT');
is(sql(qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM $table WHERE promotion <> 0}),
	sql(qq{SELECT id FROM $table ORDER BY id OFFSET 1 LIMIT 1}),
	'the open ack has promoted the next message in place');
$node->stop('immediate');
$open->quit;
$node->start;
is(sql(q{SELECT string_agg(body #>> '{}', ',') FROM mq_read('gr_inplace', 10, vt => '1 hour')}),
	'a1', 'after the crash the unacked head is the head again, alone');
is(sql(q{SELECT string_agg(group_key || ':' || ready || '/' || inflight, ',')
           FROM mq_message_groups WHERE queue = 'gr_inplace'}),
	'a:2/1', 'its next waits');
is( sql(q{SELECT mq_delete('gr_inplace', array_agg(id)) FROM mq_inspect('gr_inplace')
	         WHERE body = '"a1"'}),
	'1', 'the head deleted');
is(sql(q{SELECT string_agg(body #>> '{}', ',') FROM mq_read('gr_inplace', 10, vt => '1 hour')}),
	'a2', 'then its next comes');

# A poison message at the head of group p crashes the server on each
# delivery (the reading backend is killed while it holds the message); it
# is the oldest head, so a read of one takes it each time.
sql(q{
	SELECT mq_create_queue('gdead');
	SELECT mq_create_queue('gpoison', max_deliveries => 3, dead_letter_queue => 'gdead');
	SELECT mq_send('gpoison', '"poison"', group_key => 'p');
	SELECT mq_send('gpoison', '"next"', group_key => 'p');
	SELECT mq_send('gpoison', '"other"', group_key => 'q');
	CREATE TABLE marker (n int);
});
my @seen;
for my $round (1 .. 6)
{
	my $s = QueueTest::session($node);
	my $pid = QueueTest::session_pid($s);
	QueueTest::session_query($s, 'BEGIN');
	my ($out) = QueueTest::session_query($s,
		q{SELECT string_agg(body #>> '{}', ',' ORDER BY id) FROM mq_read('gpoison', 1)});
	push @seen, $out;
	last if $out !~ /poison/;
	# The count is flushed by the read itself from the second delivery on,
	# and the first by the commit of a later transaction.
	sql('INSERT INTO marker VALUES (1)');
	QueueTest::crash_backend($node, $pid);
	QueueTest::session_close($s);
}
is(join(' ', @seen), 'poison poison poison next',
	'the poison head is delivered max_deliveries times, then the group moves on');
is( sql(q{SELECT body #>> '{}', group_key, headers->'mq_dead_letter'->>'reason'
	        FROM mq_inspect('gdead')}),
	'poison|p|max_deliveries', 'the poison message is a dead letter, keeping its group');
is(sql(q{SELECT count(*) FROM mq_inspect('gpoison')}), '2',
	'next and other are left in the queue');

$node->stop;
done_testing();
