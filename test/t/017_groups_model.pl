# Message groups against a model, under load and faults (SPEC section 3a).
#
# Producers send to 40 groups of two queues, gq1 (max_inflight_per_group
# 1) and gq2 (2), one to three messages per transaction (some batches), a
# random one in five rolled back, recording what they send in the same
# transaction (sent_ledger).  Consumers read up to three messages, hold
# them for 20-40 ms, then at random ack them in one call (recording each
# ack, with a sequence number taken after the read, in the same
# transaction: acks), nack them, or roll back; backends are terminated at
# random meanwhile.
#
# While it holds a message, a consumer holds one of its group's
# max_inflight_per_group advisory locks (one slot per lease), taken with a
# few short retries (the lease of a transaction that ends is released a
# moment before its locks).  Finding no slot free means more messages of
# the group were in flight than its allowance: that is counted in the
# sequence "violations", which no rollback undoes.
#
# After the load, the producers stop and the consumers drain both queues.
# Then: no violation; every committed send acked exactly once, nothing
# else acked, nothing left; and in gq1 each group's acks in send order.
# QUEUE_TEST_SEED=<seed> replays the random choices of the harness.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $seconds = $ENV{QUEUE_MODEL_SECONDS} || 20;
my $seed = $ENV{QUEUE_TEST_SEED} // int(time);
srand($seed);
note "random seed $seed";

my $node = QueueTest::new_node('groups_model',
	conf => [ 'log_statement = none', 'max_connections = 40' ]);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('gq1', max_inflight_per_group => 1);
	SELECT mq_create_queue('gq2', max_inflight_per_group => 2);
	CREATE TABLE sent_ledger (n bigint PRIMARY KEY, q text NOT NULL, g text NOT NULL);
	CREATE TABLE acks (seq bigint NOT NULL, q text NOT NULL, g text NOT NULL,
	                   id bigint NOT NULL, n bigint PRIMARY KEY);
	CREATE SEQUENCE ack_seq;
	CREATE SEQUENCE violations;
});

sub sql { return $node->safe_psql('postgres', $_[0]); }

# One consumer transaction: read up to three messages of queue q, hold a
# slot of each one's group (advisory locks are re-entrant, so the slots this
# transaction holds are skipped), then ack, nack or roll back.
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION consume(q text, k int) RETURNS int LANGUAGE plpgsql AS $$
	DECLARE
	    r record;
	    got boolean;
	    held text[] := '{}';
	    msgs mq_message[];
	    fate float8 := random();
	BEGIN
	    msgs := ARRAY(SELECT m FROM mq_read(q, 3, vt => '1 minute') m);
	    FOREACH r IN ARRAY msgs LOOP
	        got := false;
	        FOR attempt IN 1 .. 10 LOOP
	            FOR slot IN 1 .. k LOOP
	                CONTINUE WHEN r.group_key || '/' || slot = ANY (held);
	                got := pg_try_advisory_xact_lock(hashtext(q || '/' || slot),
	                                                 hashtext(r.group_key));
	                IF got THEN
	                    held := held || (r.group_key || '/' || slot);
	                END IF;
	                EXIT WHEN got;
	            END LOOP;
	            EXIT WHEN got;
	            PERFORM pg_sleep(0.002);
	        END LOOP;
	        IF NOT got THEN
	            PERFORM nextval('violations');
	        END IF;
	    END LOOP;
	    -- The work.
	    PERFORM pg_sleep(0.02 + random() * 0.02) WHERE cardinality(msgs) > 0;
	    -- One ack of all: it locks their groups in one order, as every
	    -- call does (single acks in a loop could deadlock with a send).
	    IF fate < 0.7 AND cardinality(msgs) > 0 THEN
	        PERFORM mq_ack(q, ARRAY(SELECT (m).receipt FROM unnest(msgs) m));
	        INSERT INTO acks SELECT nextval('ack_seq'), q, (m).group_key, (m).id,
	                                ((m).body->>'n')::bigint
	          FROM unnest(msgs) m ORDER BY (m).id;
	    ELSIF fate < 0.85 THEN
	        FOREACH r IN ARRAY msgs LOOP
	            PERFORM mq_nack(q, r.receipt);
	        END LOOP;
	    END IF;
	    IF fate >= 0.85 THEN
	        RAISE EXCEPTION 'roll back';
	    END IF;
	    RETURN cardinality(msgs);
	END
	$$;
});

my $per_script = 500;
my %producer = (p1 => 1, p2 => 2, p3 => 3);
my %consumer = (c1 => 'gq1', c2 => 'gq1', c3 => 'gq1', c4 => 'gq2', c5 => 'gq2');

sub producer_script
{
	my ($name, $gen) = @_;
	my $s = "\\o /dev/null\n";
	for my $i (1 .. $per_script)
	{
		my $q = $i % 2 ? 'gq1' : 'gq2';
		my $size = 1 + int(rand(3));
		my $n = $producer{$name} * 1_000_000_000 + $gen * 1_000_000 + $i * 10;
		$s .= QueueTest::pool_stop_check('producer') . "BEGIN;\n";
		if ($i % 3 == 0)
		{
			my @g = map { 'g' . int(rand(40)) } 1 .. $size;
			$s .= "INSERT INTO sent_ledger SELECT $n + i, '$q', (ARRAY['"
			  . join("','", @g) . "'])[i] FROM generate_series(1, $size) i;\n"
			  . "SELECT mq_send_batch('$q', ARRAY(SELECT jsonb_build_object('n', $n + i) "
			  . "FROM generate_series(1, $size) i), group_keys => ARRAY['"
			  . join("','", @g) . "']);\n";
		}
		else
		{
			# Single sends of one transaction go to one group (sends to
			# several groups in separate calls could deadlock with an ack).
			my $g = 'g' . int(rand(40));
			for my $j (1 .. $size)
			{
				$s .= "INSERT INTO sent_ledger VALUES ($n + $j, '$q', '$g');\n"
				  . "SELECT mq_send('$q', jsonb_build_object('n', $n + $j), group_key => '$g');\n";
			}
		}
		$s .= rand() < 0.2 ? "ROLLBACK;\n" : "COMMIT;\n";
		$s .= "SELECT pg_sleep(0.01);\n";
	}
	return $s;
}

sub consumer_script
{
	my ($name, $gen) = @_;
	my $q = $consumer{$name};
	my $k = $q eq 'gq1' ? 1 : 2;
	my $s = "\\o /dev/null\n";
	for (1 .. $per_script * 4)
	{
		$s .= QueueTest::pool_stop_check('consumer')
		  . "SELECT consume('$q', $k);\n"
		  . "SELECT pg_sleep(0.05) WHERE NOT EXISTS (SELECT FROM mq_peek('$q', 1));\n";
	}
	return $s;
}

my $pool = QueueTest::pool_new(
	$node, PostgreSQL::Test::Utils::tempdir,
	producers => [ keys %producer ],
	consumers => [ keys %consumer ],
	producer_script => \&producer_script,
	consumer_script => \&consumer_script);

# Terminate a client backend in the middle of its work.
my $terminated = 0;

sub terminate_one
{
	my @pids = split /\n/, sql(q{
		SELECT pid FROM pg_stat_activity
		 WHERE application_name ~ '^[pc][0-9]$' AND backend_type = 'client backend'
		   AND state <> 'idle' ORDER BY pid});
	return unless @pids;
	my $pid = $pids[ int(rand(@pids)) ];
	$terminated++ if sql("SELECT pg_terminate_backend($pid, 5000)") eq 't';
	return;
}

my $start = time;
while (time < $start + $seconds)
{
	QueueTest::pool_supervise($pool);
	terminate_one() if rand() < 0.3;
	usleep(200_000);
}
note "terminated $terminated backends";
is(join(',', QueueTest::pool_stop($pool, 'producer')), '', 'the producers stopped');

# Drain: the consumers go on until both queues are empty.
my $drained = 0;
for (1 .. 1200)
{
	QueueTest::pool_supervise($pool);
	if (sql(q{SELECT count(*) FROM mq_queues WHERE queue IN ('gq1', 'gq2') AND depth > 0})
		eq '0')
	{
		$drained = 1;
		last;
	}
	usleep(100_000);
}
ok($drained, 'the consumers drained both queues');
is(join(',', QueueTest::pool_stop($pool, 'consumer')), '', 'the consumers stopped');
is(QueueTest::pool_errors($pool, 'consumer', 'P0001', '57P01'), '',
	'no consumer error but the rollbacks and terminations');

my ($sent, $acked) = split /\|/,
  sql('SELECT (SELECT count(*) FROM sent_ledger), (SELECT count(*) FROM acks)');
note "$sent messages sent, $acked acks";
cmp_ok($sent, '>', 200, 'the load sent messages');
is(sql(q{SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM violations}), '0',
	'no group ever had more messages in flight than its allowance');
is( sql(q{
	SELECT count(*) FROM (SELECT n, q, g FROM sent_ledger
	                      EXCEPT SELECT n, q, g FROM acks) x}),
	'0', 'every committed send was acked, in its queue and group');
is(sql(q{SELECT count(*) FROM (SELECT n FROM acks EXCEPT SELECT n FROM sent_ledger) x}),
	'0', 'nothing else was acked');
is( sql(q{
	SELECT count(*) FROM (
	    SELECT id, lag(id) OVER (PARTITION BY g ORDER BY seq) AS prev
	      FROM acks WHERE q = 'gq1') x
	 WHERE prev > id}),
	'0', 'gq1: each group acked in send order');
is( sql(q{
	SELECT count(*) FROM (
	    SELECT n, lag(n) OVER (PARTITION BY g, n / 1000000000 ORDER BY id) AS prev
	      FROM acks WHERE q = 'gq1') x
	 WHERE prev > n}),
	'0', 'gq1: a producer\'s sends to a group got ids in its order');
is(sql(q{SELECT count(*) FROM mq_message_groups WHERE queue IN ('gq1', 'gq2')}),
	'0', 'no group is left');

$node->stop;
done_testing();
