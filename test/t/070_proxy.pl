# queue_proxy (SPEC section 11): the functions of queue over PL/Proxy, a
# proxy node in front of three shard nodes.  The proxy has every function
# of queue with the same arguments, defaults and results, and every view
# with a shard column first; each queue, stream and schedule lives whole on
# the shard mq_shard_of names, topics on every shard, a subscription on its
# queue's shard, and a publish delivers on every shard; errors keep their
# SQLSTATE; a shard that is down makes only its own objects unavailable.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;

QueueTest::skip_without_plproxy();
my ($proxy, $shards) = QueueTest::proxy_cluster(3);
my @shards = @$shards;

sub px { return $proxy->safe_psql('postgres', $_[0]); }
sub on { return $shards[ $_[0] ]->safe_psql('postgres', $_[1]); }

# Where a named object is, asked of every shard: "0,2" and so on.
sub where
{
	my ($view, $column, $name) = @_;
	return join(',', grep { on($_, "SELECT count(*) FROM $view WHERE $column = '$name'") > 0 } 0 .. $#shards);
}

sub state_of
{
	my ($sql) = @_;
	my ($state) = QueueTest::sql_error($proxy, $sql);
	return $state;
}

# --- The surface: generated from queue's own -----------------------------

my $functions = q{
	SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') '
	       || pg_get_function_result(p.oid)
	  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	 WHERE n.nspname = 'public' AND p.proname LIKE 'mq\_%' AND p.proname <> 'mq_shard_of'
	 ORDER BY 1};
my $shard_functions = on(0, $functions);
is(px($functions), $shard_functions,
	'every function of queue, with its arguments, defaults and result, is on the proxy');
cmp_ok(scalar(split /\n/, $shard_functions), '>=', 40, 'that is, 40 functions or more');

my $acls = q{
	SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
	       || coalesce(array_to_string(p.proacl, ','), 'default')
	  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	 WHERE n.nspname = 'public' AND p.proname LIKE 'mq\_%' AND p.proname <> 'mq_shard_of'
	 ORDER BY 1};
is(px($acls), on(0, $acls), 'and who may execute each, as on a shard');

my $views = q{SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'public' AND c.relkind = 'v' AND c.relname LIKE 'mq\_%' ORDER BY 1};
is(px($views), on(0, $views), 'every view of queue is on the proxy');
for my $view (split /\n/, on(0, $views))
{
	my $columns = qq{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		 FROM pg_attribute WHERE attrelid = '$view'::regclass AND attnum > 0};
	is(px($columns), 'shard integer, ' . on(0, $columns), "$view: a shard column, then the shard's columns");
}

# --- Queues: whole on the shard of their name ----------------------------

my @queues = map { "q$_" } 0 .. 23;
px(join(';', map { "SELECT mq_create_queue('$_')" } @queues));
my %shard_of = map { $_ => px("SELECT mq_shard_of('$_')") } @queues;
my @misplaced = grep { where('mq_queues', 'queue', $_) ne $shard_of{$_} } @queues;
is("@misplaced", '', 'each queue is created on the shard mq_shard_of names, and only there');
my %used;
$used{ $shard_of{$_} }++ for @queues;
is(join(',', sort keys %used), '0,1,2', 'the 24 queues spread over the three shards');
is(px(q{SELECT string_agg(shard || ':' || queue, ',' ORDER BY queue) FROM mq_queues}),
	join(',', map { "$shard_of{$_}:$_" } sort @queues),
	'mq_queues through the proxy: every queue once, with its shard');

# One queue on each shard, for what follows.
my @on = map { my $s = $_; (grep { $shard_of{$_} == $s } @queues)[0] } 0 .. 2;
my ($qa, $qb, $qc) = @on;

is(px(qq{SELECT count(*) FROM (SELECT mq_send('$qa', jsonb_build_object('n', i)) FROM generate_series(1, 5) i) s}),
	'5', 'send through the proxy');
is(px(qq{SELECT count(*) FROM mq_send_batch('$qa', ARRAY['{"n": 6}', '{"n": 7}']::jsonb[])}), '2',
	'send_batch through the proxy');
is(on($shard_of{$qa}, "SELECT depth FROM mq_queues WHERE queue = '$qa'"), '7',
	'the seven messages are on the queue\'s shard');
my $receipts = px(qq{SELECT string_agg(receipt::text, ',' ORDER BY id) FROM mq_read('$qa', 3)});
is(scalar(split /,/, $receipts), 3, 'read three through the proxy');
is(px(qq{SELECT mq_ack('$qa', ARRAY[$receipts]::bigint[])}), '3', 'ack the three by receipts');
my ($r1) = split /\|/, px(qq{SELECT receipt, id FROM mq_read('$qa', 1)});
is(px(qq{SELECT mq_nack('$qa', $r1)}), 't', 'nack through the proxy');
is(px(qq{SELECT count(*) FROM mq_peek('$qa')}), '4', 'peek through the proxy');
is(px(qq{SELECT depth || '/' || inflight FROM mq_queues WHERE queue = '$qa'}), '4/0',
	'mq_queues through the proxy shows the state');
is(px(qq{SELECT count(*) FROM mq_inspect('$qa')}), '4', 'inspect through the proxy');
is(px(qq{SELECT sent FROM mq_stats WHERE queue = '$qa'}), '7', 'mq_stats through the proxy');
px(qq{SELECT mq_stats_reset()});
is(px(q{SELECT count(*) FROM mq_stats WHERE sent > 0}), '0', 'mq_stats_reset() resets every shard');
is(px(qq{SELECT mq_purge('$qa')}), '4', 'purge through the proxy');

# A dead-letter queue or move target on another shard: refused.
is(state_of(qq{SELECT mq_create_queue('dl_x', dead_letter_queue => '$qb')}) . '/'
	  . state_of(qq{SELECT mq_alter_queue('$qa', dead_letter_queue => '$qb')}) . '/'
	  . state_of(qq{SELECT mq_move('$qa', ARRAY[1]::bigint[], '$qb')}),
	'0A000/0A000/0A000', 'a dead-letter queue or move target on another shard: 0A000');
my $same = (grep { $_ ne $qa && $shard_of{$_} == $shard_of{$qa} } @queues)[0];
px(qq{SELECT mq_alter_queue('$qa', dead_letter_queue => '$same', max_deliveries => 1)});
is(px(qq{SELECT dead_letter_queue FROM mq_queues WHERE queue = '$qa'}), $same,
	'a dead-letter queue on the same shard is taken');

# --- Topics: on every shard ------------------------------------------------

px(q{SELECT mq_create_topic('events')});
is(where('mq_topics', 'topic', 'events'), '0,1,2', 'a topic is created on every shard');
px(qq{SELECT mq_subscribe('events', '$qa', 'order.*'); SELECT mq_subscribe('events', '$qb', '#');
      SELECT mq_subscribe('events', '$qc', 'order.created')});
is(where('mq_topics', 'queue', $qb), $shard_of{$qb}, 'a subscription is on its queue\'s shard');
is(px(q{SELECT mq_publish('events', 'order.created', '{"o": 1}')}), '3',
	'publish delivers on every shard and returns the sum');
is(px(q{SELECT mq_publish('events', 'order.paid', '{"o": 2}')}), '2', 'patterns apply per shard');
is(join(',', map { px("SELECT depth FROM mq_queues WHERE queue = '$_'") } @on), '2,2,1',
	'each subscribed queue holds its copies');
is(px(q{SELECT mq_publish('events', 'x', '{}', idempotency_key => 'k1')}) . '/'
	  . px(q{SELECT coalesce(mq_publish('events', 'x', '{}', idempotency_key => 'k1')::text, 'null')}),
	'1/null', 'an idempotency key repeated within the window: NULL, as on one server');
is(px(qq{SELECT mq_unsubscribe('events', '$qc')}), '1', 'unsubscribe through the proxy');

# --- Streams: whole on the shard of their name -----------------------------

px(q{SELECT mq_create_stream('clicks', partitions => 4)});
my $s_shard = px(q{SELECT mq_shard_of('clicks')});
is(where('mq_streams', 'stream', 'clicks'), $s_shard, 'a stream is created on its shard only');
px(q{SELECT count(*) FROM (SELECT mq_append('clicks', jsonb_build_object('i', i), 'k' || (i % 3))
      FROM generate_series(1, 30) i) s});
is(px(q{SELECT sum(records) FROM mq_streams WHERE stream = 'clicks'}), '30', 'append through the proxy');
is(px(q{SELECT count(*) FROM mq_stream_read('clicks', 0, 0, 100)})
	  + px(q{SELECT count(*) FROM mq_stream_read('clicks', 1, 0, 100)})
	  + px(q{SELECT count(*) FROM mq_stream_read('clicks', 2, 0, 100)})
	  + px(q{SELECT count(*) FROM mq_stream_read('clicks', 3, 0, 100)}), 30,
	'stream_read through the proxy reads them all');
px(q{SELECT mq_create_group('clicks', 'g')});
my $consumed = 0;
for (1 .. 8)
{
	$consumed += px(q{SELECT count(*) FROM mq_consume('clicks', 'g', 100)});
}
is($consumed, 30, 'a group consumes every record through the proxy (one call, one commit)');
is(px(q{SELECT sum(lag) FROM mq_groups WHERE stream = 'clicks'}), '0', 'mq_groups through the proxy');

# --- Schedules ---------------------------------------------------------------

my $sched = (grep { px("SELECT mq_shard_of('$_')") == $shard_of{$qa} } map { "sch$_" } 0 .. 50)[0];
my $other = (grep { px("SELECT mq_shard_of('$_')") != $shard_of{$qa} } map { "sch$_" } 0 .. 50)[0];
px(qq{SELECT mq_create_schedule('$sched', '0 3 * * *', '$qa', '{}')});
is(where('mq_schedules', 'schedule', $sched), $shard_of{$qa}, 'a schedule of a queue: on the queue\'s shard');
is(state_of(qq{SELECT mq_create_schedule('$other', '0 3 * * *', '$qa', '{}')}), '0A000',
	'a schedule whose name is on another shard than its queue: 0A000');
px(q{SELECT mq_create_schedule('nightly', '0 3 * * *', 'events', '{}', routing_key => 'order.created')});
is(where('mq_schedules', 'schedule', 'nightly'), '0,1,2', 'a schedule of a topic: on every shard');
px(q{SELECT mq_alter_schedule('nightly', paused => true)});
is(px(q{SELECT string_agg(paused::text, ',') FROM mq_schedules WHERE schedule = 'nightly'}),
	'true,true,true', 'altering it alters every copy');
is(px(q{SELECT mq_drop_schedule('nightly')}), 't', 'dropping it');
is(where('mq_schedules', 'schedule', 'nightly'), '', 'drops every copy');
is(px(qq{SELECT mq_drop_schedule('$sched')}), 't', 'a schedule of a queue is dropped on its shard');

# --- Privileges ----------------------------------------------------------------

$_->safe_psql('postgres', 'CREATE ROLE px_reader') for ($proxy, @shards);
px(qq{SELECT mq_grant('$qb', 'px_reader', ARRAY['read'])});
is(join(',', grep { on($_, "SELECT count(*) FROM mq_grants WHERE grantee = 'px_reader'::regrole") > 0 } 0 .. 2),
	$shard_of{$qb}, 'a grant on a queue: on its shard');
px(q{SELECT mq_grant('events', 'px_reader', ARRAY['send'])});
is(px(q{SELECT count(*) FROM mq_grants WHERE object = 'events' AND grantee = 'px_reader'::regrole}), '3',
	'a grant on a topic: on every shard');
px(q{SELECT mq_revoke('events', 'px_reader')});
is(px(q{SELECT count(*) FROM mq_grants WHERE object = 'events' AND grantee = 'px_reader'::regrole}), '0',
	'a revoke on a topic: on every shard');

# --- Errors keep their SQLSTATE ---------------------------------------------

is(state_of(q{SELECT mq_send('no_such_queue', '{}')}), '42704', 'a missing queue: 42704');
is(state_of(q{SELECT mq_send('bad name', '{}')}), '22023', 'an invalid name: 22023');
is(state_of(qq{SELECT mq_create_queue('$qa')}), '42710', 'a queue that exists: 42710');
is(state_of(qq{SELECT mq_send('$qa', NULL)}), '22023', 'a NULL body: 22023');
is(state_of(q{SELECT mq_create_topic('events')}), '42710', 'a topic that exists: 42710');
is(state_of(q{SELECT mq_shard_of('bad name')}), '22023', 'mq_shard_of of an invalid name: 22023');
my ($state, $err) = QueueTest::sql_error($proxy, q{SELECT mq_send('no_such_queue', '{}')});
like($err, qr/queue "no_such_queue" does not exist/, 'the shard\'s message comes through');
is(px(q{SELECT mq_drop_queue('no_such_queue', if_exists => true)}), 'f', 'if_exists through the proxy');

# --- A shard down: only its objects are unavailable --------------------------

px(qq{SELECT mq_send('$_', '{"before": true}')}) for @on;
my %depth = map { $_ => px("SELECT depth FROM mq_queues WHERE queue = '$_'") } @on;
$shards[1]->stop('immediate');
my $down = $on[1];
my ($down_state, $down_err) = QueueTest::sql_error($proxy, qq{SELECT mq_send('$down', '{}')});
is($down_state, 'XX000', 'a queue on the shard that is down: XX000 from PL/Proxy');
like($down_err, qr/connection to server .* failed/, 'saying the connection failed');
is(px(qq{SELECT mq_send('$on[0]', '{"during": true}')}) > 0
	  && px(qq{SELECT mq_send('$on[2]', '{"during": true}')}) > 0, 1,
	'queues on the other shards take sends');
is(px(qq{SELECT count(*) FROM mq_read('$on[2]', 1)}), '1', 'and are read');
$shards[1]->start;
is(px(qq{SELECT depth FROM mq_queues WHERE queue = '$down'}), $depth{$down},
	'after its restart the shard\'s queue is back, complete');
ok(px(qq{SELECT mq_send('$down', '{"after": true}')}) > 0, 'and takes sends again');

# --- mq_shard_of with a power of two: four shards, masking ---------------------

$shards[0]->safe_psql('postgres', 'CREATE DATABASE fourth');
$shards[0]->safe_psql('fourth', 'CREATE EXTENSION queue');
(my $fourth = QueueTest::shard_conninfo($shards[0])) =~ s/dbname=postgres/dbname=fourth/;
px(qq{ALTER SERVER queue OPTIONS (DROP modular_mapping, ADD p3 '$fourth')});
my @names = map { "m$_" } 0 .. 31;
px(join(';', map { "SELECT mq_create_queue('$_')" } @names));
my @wrong = grep {
	my $n = $_;
	my $s = px("SELECT mq_shard_of('$n')");
	my $db = $s == 3 ? 'fourth' : 'postgres';
	$shards[ $s == 3 ? 0 : $s ]->safe_psql($db, "SELECT count(*) FROM mq_queues WHERE queue = '$n'") ne '1';
} @names;
is("@wrong", '', 'with four shards (no modular_mapping) each queue is where mq_shard_of says');
is(px(q{SELECT count(DISTINCT shard) FROM mq_queues WHERE queue LIKE 'm%'}), '4',
	'and the views show the four shards');

done_testing();
