# Failover under load with synchronous replication: everything that
# returned success on the primary is on the promoted standby, and the
# promoted standby works as a primary (SPEC sections 3, 4, 5, 7 and 9).
#
# A primary and a streaming standby on the same host, the standby
# connecting over TCP loopback (127.0.0.1), the primary with
# synchronous_standby_names = the standby's application_name and
# synchronous_commit = on (a commit returns once the standby has flushed
# its WAL; promotion replays all of it, so remote_apply would add nothing
# here).  Both preload the library.  Clients (psql scripts that stop at the
# first error) run against the primary and print each call that returned
# success, with what it returned:
#
#   s1  mq_send in autocommit: the message id
#   s2  mq_send with a priority and an idempotency key, in a transaction
#       that also inserts the message's key into sent_ledger
#       (transactional outbox)
#   a1  mq_append with a key and an idempotency key: partition and
#       position
#   a2  mq_append_batch of three in a transaction
#   u1  mq_publish to a topic with two subscribed queues: copies delivered
#   c1  exactly-once consumer: mq_read, insert into processed_ledger, strict
#       mq_ack, commit (it prints the ids before COMMIT, and again once
#       COMMIT has returned)
#   g1  mq_consume of a consumer group, in a transaction (it prints the
#       positions before COMMIT, and again once COMMIT has returned)
#
# At a random moment (seeded; QUEUE_TEST_SEED replays the choice) the
# primary is stopped with an immediate shutdown, mid-load, and the standby
# is promoted.  Before that, the views could be queried on the standby all
# along the load, and it ran no queue launcher nor worker.  Then, on the
# new primary:
#
#   - every send that returned success is stored, with its body, unless a
#     consumer's commit of its ack returned (then it is not stored) or was
#     under way at the shutdown; sent_ledger = stored + processed_ledger,
#     with no overlap; no lease is left (every message is ready, mq_peek
#     shows them); a receipt issued by the old primary does not ack
#   - every append that returned success is at its partition and
#     position, with its body (mq_stream_read); the group's position is
#     past every record whose consume committed
#   - every publish that returned success has its copies in the subscribed
#     queues, and returned the number of queues that match
#   - a send or append again with the idempotency key of one that returned
#     success returns the same id, or partition and position, and stores
#     nothing
#   - the launcher starts, a worker serves the database and expires the
#     messages whose TTL ends after the failover
#   - new sends (ids above every earlier one), reads, acks, appends (past
#     every earlier position of the partition) and publishes work
#
# QUEUE_FAILOVER_ROUNDS sets how many failovers happen in a row (default
# 2): each round makes a new standby of the current primary.  After the
# last, the queue is drained with mq_read and the group with mq_consume:
# every expected message and record comes out once, no acked message and
# no consumed record comes back.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $rounds = $ENV{QUEUE_FAILOVER_ROUNDS} || 2;
my $per_script = 20000;    # calls in each generated script: never reached
my $seed = $ENV{QUEUE_TEST_SEED} // int(time);
srand($seed);
note "random seed $seed, $rounds rounds";

my $primary = QueueTest::new_node('primary',
	conf => [ 'wal_level = replica', 'max_wal_senders = 4', 'wal_keep_size = 256MB',
		"listen_addresses = '127.0.0.1'", 'log_statement = none',
		'max_connections = 40' ]);
$primary->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('q');
	SELECT mq_create_queue('held');
	SELECT mq_create_queue('tq');
	SELECT mq_create_queue('tq2');
	SELECT mq_create_queue('ttl', message_ttl => '5 seconds');
	SELECT mq_create_topic('t');
	SELECT mq_subscribe('t', 'tq', 'orders.#');
	SELECT mq_subscribe('t', 'tq2', '#');
	SELECT mq_create_stream('s', partitions => 4);
	SELECT mq_create_group('s', 'g');
	CREATE TABLE sent_ledger (k text PRIMARY KEY);
	CREATE TABLE processed_ledger (k text PRIMARY KEY, id bigint NOT NULL,
	                               receipt bigint NOT NULL, tag text NOT NULL);
	CREATE INDEX ON processed_ledger (tag);
});
my %table = map { $_ => QueueTest::storage_table($primary, $_) } qw(q tq tq2 ttl held);
my $dir = PostgreSQL::Test::Utils::tempdir;

# What the clients saw succeed.
my %sent;         # message id => body key
my %ledgered;     # body key => 1: s2's sends (also in sent_ledger)
my %acked;        # message id => 1: its ack committed
my %tentative;    # message id => 1: read in a transaction that may have committed
my %appended;     # "partition:position" => body key
my %consumed;     # "partition:position" => 1: its consume committed
my %claimed;      # "partition:position" => 1: consumed in a transaction that may have committed
my %published;    # body key => copies delivered
my %route;        # body key => the queues its routing key matches
my %errors;       # client => stderr lines with ERROR

# ---------------------------------------------------------------------
# Client scripts; keys are "<client>.<round>.<step>".

sub client_script
{
	my ($name, $round) = @_;
	my $s = "SET application_name = '$name';\n\\set VERBOSITY verbose\n\\o /dev/null\n";
	for my $i (1 .. $per_script)
	{
		my $k = "$name.$round.$i";
		if ($name eq 's1')
		{
			$s .= "SELECT mq_send('q', jsonb_build_object('k', '$k')) AS id \\gset\n"
			  . "\\echo s $k :id\n";
		}
		elsif ($name eq 's2')
		{
			$s .= "BEGIN;\nINSERT INTO sent_ledger VALUES ('$k');\n"
			  . "SELECT mq_send('q', jsonb_build_object('k', '$k'), priority => "
			  . ($i % 3) . ", idempotency_key => '$k') AS id \\gset\n"
			  . "COMMIT;\n\\echo s $k :id\n";
		}
		elsif ($name eq 'a1')
		{
			$s .= "SELECT partition AS p, position AS pos FROM mq_append('s', "
			  . "jsonb_build_object('k', '$k'), key => 'key" . ($i % 11) . "', "
			  . "idempotency_key => '$k') \\gset\n"
			  . "\\echo a $k :p:pos\n";
		}
		elsif ($name eq 'a2')
		{
			$s .= "BEGIN;\n"
			  . "SELECT string_agg(partition || ':' || position, ' ' ORDER BY n) AS pp "
			  . "FROM mq_append_batch('s', ARRAY[jsonb_build_object('k', '$k.1'), "
			  . "jsonb_build_object('k', '$k.2'), jsonb_build_object('k', '$k.3')]) "
			  . "WITH ORDINALITY AS b(partition, position, n) \\gset\n"
			  . "COMMIT;\n\\echo b $k :pp\n";
		}
		elsif ($name eq 'u1')
		{
			my $rk = $i % 2 ? 'orders.eu.new' : 'audit.eu';
			$s .= "SELECT mq_publish('t', '$rk', jsonb_build_object('k', '$k')) AS n \\gset\n"
			  . "\\echo u $k :n\n";
		}
		elsif ($name eq 'c1')
		{
			$s .= "BEGIN;\n"
			  . "INSERT INTO processed_ledger SELECT body->>'k', id, receipt, '$k' "
			  . "FROM mq_read('q', 5);\n"
			  . "SELECT coalesce(string_agg(id::text, ' '), '') AS ids, "
			  . "mq_ack('q', coalesce(array_agg(receipt), '{}'), strict => true) AS n "
			  . "FROM processed_ledger WHERE tag = '$k' \\gset\n"
			  . "\\echo t :ids\nCOMMIT;\n\\echo c :ids\n";
		}
		elsif ($name eq 'g1')
		{
			$s .= "BEGIN;\n"
			  . "SELECT coalesce(string_agg(partition || ':' || position, ' '), '') AS pp "
			  . "FROM mq_consume('s', 'g', 20) \\gset\n"
			  . "\\echo h :pp\nCOMMIT;\n\\echo g :pp\n";
		}
	}
	return $s . "\\echo done\n";
}

my @clients = qw(s1 s2 a1 a2 u1 c1 g1);

sub start_clients
{
	my ($node, $round) = @_;
	my %runs;
	for my $name (@clients)
	{
		my $file = "$dir/$name.$round";
		PostgreSQL::Test::Utils::append_to_file("$file.sql", client_script($name, $round));
		$runs{$name} = QueueTest::psql_script($node, "$file.sql", "$file.out", "$file.err");
	}
	return \%runs;
}

# Wait for the clients to end (their server is gone) and record what they
# saw succeed.
sub reap_clients
{
	my ($runs, $round) = @_;
	for my $name (sort keys %$runs)
	{
		my $run = $runs->{$name};
		my $deadline = time + 60;
		usleep(50_000) while !QueueTest::finished($run) && time < $deadline;
		$run->kill_kill unless QueueTest::finished($run);
		$run->finish;
		my $file = "$dir/$name.$round";
		my @err = grep { /ERROR/ } split /\n/, slurp_file("$file.err");
		$errors{$name} = join("\n", @err) if @err;
		for (split /\n/, slurp_file("$file.out"))
		{
			if (/^s (\S+) (\d+)$/)
			{
				$sent{$2} = $1;
				$ledgered{$1} = 1 if $name eq 's2';
			}
			elsif (/^t (.*)$/) { $tentative{$_} = 1 for split / /, $1; }
			elsif (/^c (.*)$/) { $acked{$_} = 1 for split / /, $1; }
			elsif (/^a (\S+) (\d+:\d+)$/) { $appended{$2} = $1; }
			elsif (/^b (\S+) (.*)$/)
			{
				my ($k, @pp) = ($1, split / /, $2);
				$appended{ $pp[$_] } = "$k." . ($_ + 1) for 0 .. $#pp;
			}
			elsif (/^u (\S+) (\d+)$/)
			{
				my ($k, $n) = ($1, $2);
				$published{$k} = $n;
				$route{$k} = ($k =~ /\.(\d+)$/)[0] % 2 ? 'tq,tq2' : 'tq2';
			}
			elsif (/^h (.*)$/) { $claimed{$_} = 1 for split / /, $1; }
			elsif (/^g (.*)$/) { $consumed{$_} = 1 for split / /, $1; }
		}
	}
	return;
}

sub rows
{
	my ($node, $sql) = @_;
	return map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', $sql);
}

sub first_ten
{
	my @list = sort @_;
	return join(',', splice(@list, 0, 10));
}

# All records of the stream, "partition:position" => body key.
sub stream_records
{
	my ($node) = @_;
	my %records;
	for my $p (0 .. 3)
	{
		my $from = 0;
		while (1)
		{
			my @r = rows($node,
				"SELECT position, body->>'k' FROM mq_stream_read('s', $p, $from, 10000)");
			last unless @r;
			$records{"$p:$_->[0]"} = $_->[1] for @r;
			$from = $r[-1][0] + 1;
		}
	}
	return \%records;
}

# ---------------------------------------------------------------------
my $t0 = time;
for my $round (1 .. $rounds)
{
	my $name = "standby$round";
	my $port = $primary->port;
	my $standby = QueueTest::new_standby($primary, $name,
		conf => [ "primary_conninfo = 'host=127.0.0.1 port=$port application_name=$name'" ]);
	$primary->safe_psql('postgres',
		"ALTER SYSTEM SET synchronous_standby_names = '$name';
		 ALTER SYSTEM SET synchronous_commit = 'on';
		 SELECT pg_reload_conf();");
	ok( $primary->poll_query_until(
			'postgres',
			"SELECT sync_state || ' ' || host(client_addr) FROM pg_stat_replication
			  WHERE application_name = '$name'",
			'sync 127.0.0.1'),
		"round $round: the standby replicates synchronously over loopback");
	is(scalar(QueueTest::queue_launchers($standby)), 0, "round $round: no launcher on the standby");
	is(scalar(QueueTest::queue_workers($standby)), 0, "round $round: no worker on the standby");

	# A receipt of the old primary, for a message leased there.
	$primary->safe_psql('postgres', "SELECT mq_send('held', '{\"round\": $round}')");
	my ($held_id, $held_receipt) = @{ (rows($primary,
		"SELECT id, receipt FROM mq_read('held', 1, '1 hour')"))[0] };

	# Load, until a random moment when every client has done some work.
	my $counts = q{
		SELECT (SELECT count(*) FROM sent_ledger), (SELECT count(*) FROM processed_ledger),
		       (SELECT sum(next_position) FROM mq_streams WHERE stream = 's'),
		       (SELECT sum(position) FROM mq_groups WHERE stream = 's'),
		       (SELECT depth FROM mq_queues WHERE queue = 'tq2')};
	my @before = map { @$_ } rows($primary, $counts);
	my $runs = start_clients($primary, $round);
	my $seconds = 2 + rand(3);
	my $start = time;
	my $loaded = 0;
	my $view_errors = '';
	while (time < $start + 120)
	{
		usleep(200_000);
		my ($ret, $out, $err) = $standby->psql('postgres',
			q{SELECT count(*) FROM mq_queues; SELECT count(*) FROM mq_topics;
			  SELECT count(*) FROM mq_streams; SELECT count(*) FROM mq_groups});
		$view_errors .= $err if $ret != 0;
		next if time < $start + $seconds;
		my @now = map { @$_ } rows($primary, $counts);
		$loaded = !grep { $now[$_] < $before[$_] + 20 } 0 .. 4;
		last if $loaded || grep { QueueTest::finished($_) } values %$runs;
	}
	ok($loaded, "round $round: every client made progress");
	is($view_errors, '', "round $round: the views work on the standby under load");
	is(join(',', grep { QueueTest::finished($runs->{$_}) } @clients), '',
		"round $round: every client still runs");

	# Messages whose TTL ends after the failover: only the new primary's
	# worker can expire them.
	$primary->safe_psql('postgres',
		"SELECT mq_send_batch('ttl', array_fill('{}'::jsonb, ARRAY[20]))");
	note sprintf('round %d: immediate shutdown of the primary after %.1f s of load',
		$round, time - $start);
	$primary->stop('immediate');
	reap_clients($runs, $round);
	is(join("\n", map { "$_: $errors{$_}" } sort keys %errors), '',
		"round $round: no client saw an SQL error");

	$standby->promote;
	ok($standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
		"round $round: the standby is promoted");
	my $new = $standby;
	my $when = "round $round, after the failover";

	# Queue q: what is stored.
	my %stored = map { $_->[0] => $_->[1] } rows($new, "SELECT id, body->>'k' FROM $table{q}");
	my %maybe = map { $_ => 1 } grep { !$acked{$_} } keys %tentative;
	my @missing = grep { !$acked{$_} && !$maybe{$_} && !exists $stored{$_} } keys %sent;
	is(first_ten(@missing), '', "$when: every send that returned success is stored")
	  or diag(scalar(@missing) . ' missing');
	is(first_ten(grep { exists $stored{$_} && $stored{$_} ne $sent{$_} } keys %sent),
		'', "$when: with its body");
	is(first_ten(grep { exists $stored{$_} } keys %acked), '',
		"$when: no message whose ack committed is stored");
	my %processed = map { $_->[0] => $_->[1] } rows($new, 'SELECT id, k FROM processed_ledger');
	is(first_ten(grep { !exists $processed{$_} } keys %acked), '',
		"$when: the work of every committed ack is there");
	is(first_ten(grep { exists $stored{$_} } keys %processed), '',
		"$when: nothing processed is stored");
	my %ledger = map { $_->[0] => 1 } rows($new, 'SELECT k FROM sent_ledger');
	is(first_ten(grep { !$ledger{$_} } keys %ledgered), '',
		"$when: every outbox send that returned success is in sent_ledger");
	my %stored_keys = map { $_ => 1 } values %stored;
	my %processed_keys = map { $_ => 1 } values %processed;
	is(first_ten(grep { !$stored_keys{$_} && !$processed_keys{$_} } keys %ledger), '',
		"$when: every sent_ledger row is stored or processed");
	my $depth = scalar keys %stored;
	is($new->safe_psql('postgres',
			"SELECT depth, ready, inflight, delayed FROM mq_queues WHERE queue = 'q'"),
		"$depth|$depth|0|0", "$when: every stored message is ready, no lease is left");
	my @peek = map { $_->[0] } rows($new, "SELECT id FROM mq_peek('q', 10000)");
	is(scalar(@peek), $depth < 10000 ? $depth : 10000, "$when: mq_peek shows them");
	is(first_ten(grep { !exists $stored{$_} } @peek), '', "$when: and nothing else");

	# The receipt of the old primary.
	my ($state) = QueueTest::sql_error($new, "SELECT mq_ack('held', $held_receipt)");
	is($state, '55000', "$when: a receipt of the old primary does not ack");
	is($new->safe_psql('postgres',
			"SELECT count(*) FROM mq_read('held', 100, '1 second') WHERE id = $held_id"),
		'1', "$when: its message is delivered again");

	# The stream and the group.
	my $records = stream_records($new);
	is(first_ten(grep { !exists $records->{$_} } keys %appended), '',
		"$when: every append that returned success is at its position");
	is(first_ten(grep { exists $records->{$_} && $records->{$_} ne $appended{$_} } keys %appended),
		'', "$when: with its body");
	my %group = map { $_->[0] => $_->[1] }
	  rows($new, "SELECT partition, position FROM mq_groups WHERE stream = 's'");
	is( first_ten(grep { my ($p, $pos) = split /:/; $group{$p} <= $pos } keys %consumed),
		'', "$when: the group is past every record whose consume committed");

	# The topic's copies.
	my %copies;
	for my $q ('tq', 'tq2')
	{
		$copies{$_}{$q} = 1 for map { $_->[0] } rows($new, "SELECT body->>'k' FROM $table{$q}");
	}
	is(first_ten(grep { join(',', sort keys %{ $copies{$_} || {} }) ne $route{$_} } keys %route),
		'', "$when: every publish that returned success has its copies");
	is(first_ten(grep { $published{$_} != split(/,/, $route{$_}) } keys %route),
		'', "$when: each returned the number of queues its routing key matches");

	# Idempotency keys: sends and appends again return what the first did.
	my %id_of = map { $sent{$_} => $_ } grep { $ledgered{ $sent{$_} } } keys %sent;
	# (a few hundred keys per transaction: each key is locked until the
	# transaction ends)
	my $depth_before = $new->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = 'q'");
	my @keys = sort keys %id_of;
	my %again;
	while (my @chunk = splice(@keys, 0, 500))
	{
		my $keys = join ',', @chunk;
		%again = (%again, map { $_->[0] => $_->[1] } rows($new,
			"SELECT k, mq_send('q', jsonb_build_object('k', k), idempotency_key => k)
			   FROM unnest('{$keys}'::text[]) k"));
	}
	is(first_ten(grep { ($again{$_} // '') ne $id_of{$_} } keys %id_of), '',
		"$when: a send again with the key of one that returned success returns its id");
	is($new->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = 'q'"),
		$depth_before, "$when: and stores nothing");
	my %pos_of = map { $appended{$_} => $_ } grep { $appended{$_} =~ /^a1\./ } keys %appended;
	@keys = sort keys %pos_of;
	my %append_again;
	while (my @chunk = splice(@keys, 0, 500))
	{
		my $keys = join ',', @chunk;
		%append_again = (%append_again, map { $_->[0] => "$_->[1]:$_->[2]" } rows($new,
			"SELECT k, (a).partition, (a).position
			   FROM (SELECT k, mq_append('s', jsonb_build_object('k', k),
			                             key => 'key' || (split_part(k, '.', 3)::int % 11),
			                             idempotency_key => k) a
			           FROM unnest('{$keys}'::text[]) k) x"));
	}
	is(first_ten(grep { ($append_again{$_} // '') ne $pos_of{$_} } keys %pos_of), '',
		"$when: an append again with the key of one that returned success returns its position");
	is(scalar(keys %{ stream_records($new) }), scalar(keys %$records),
		"$when: and appends nothing");

	# The background worker starts, and works.
	ok( defined QueueTest::poll_until($new, 'postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue launcher'",
			'1', 30),
		"$when: the launcher starts");
	ok(defined((QueueTest::wait_for_worker($new, 'postgres', 30))[0]),
		"$when: a worker serves the database");
	ok( defined QueueTest::poll_until($new, 'postgres',
			"SELECT depth || ' ' || (SELECT expired FROM mq_stats WHERE queue = 'ttl')
			   FROM mq_queues WHERE queue = 'ttl'", '0 20', 60),
		"$when: the worker expires the messages whose TTL ended after the failover");

	# New calls work.
	my $max_id = 0;
	for (keys %sent, keys %stored) { $max_id = $_ if $_ > $max_id; }
	my $id = $new->safe_psql('postgres', "SELECT mq_send('q', '{\"k\": \"after.$round\"}')");
	cmp_ok($id, '>', $max_id, "$when: a new send gets an id above every earlier one");
	$sent{$id} = "after.$round";
	my ($read_id, $ack) = split /\n/, $new->safe_psql('postgres',
		"BEGIN;
		 INSERT INTO processed_ledger SELECT body->>'k', id, receipt, 'after.$round'
		   FROM mq_read('q', 1) RETURNING id;
		 SELECT mq_ack('q', receipt) FROM processed_ledger WHERE tag = 'after.$round';
		 COMMIT;");
	ok($read_id && $ack eq 't', "$when: a read and an ack work");
	$acked{$read_id} = 1;
	my ($p, $pos) = split /\|/, $new->safe_psql('postgres',
		"SELECT partition, position FROM mq_append('s', '{\"k\": \"after.$round\"}', key => 'key1')");
	my ($highest) = sort { $b <=> $a } map { (split /:/)[1] } grep { /^$p:/ } keys %$records;
	cmp_ok($pos, '>', $highest // -1, "$when: a new append comes after every earlier record");
	$appended{"$p:$pos"} = "after.$round";
	is($new->safe_psql('postgres', "SELECT mq_publish('t', 'orders.x', '{\"k\": \"after.$round\"}')"),
		'2', "$when: a publish delivers");
	$published{"after.$round"} = 2;
	$route{"after.$round"} = 'tq,tq2';

	$primary = $new;
}
note sprintf('%d failovers took %.1f s', $rounds, time - $t0);

# ---------------------------------------------------------------------
# The last primary: everything expected comes out once, nothing else.
my %read;
my $twice = 0;
while (1)
{
	my @got = map { $_->[0] } rows($primary,
		"WITH r AS (SELECT id, receipt FROM mq_read('q', 1000))
		 SELECT id FROM r WHERE mq_ack('q', receipt)");
	last unless @got;
	for (@got) { $twice++ if $read{$_}++; }
}
my %maybe = map { $_ => 1 } grep { !$acked{$_} } keys %tentative;
is(first_ten(grep { !$acked{$_} && !$maybe{$_} && !$read{$_} } keys %sent), '',
	'drain: every expected message is read');
is(first_ten(grep { $read{$_} } keys %acked), '', 'drain: no acked message is read');
is($twice, 0, 'drain: no message is read twice');
is($primary->safe_psql('postgres', "SELECT depth FROM mq_queues WHERE queue = 'q'"),
	'0', 'drain: the queue is empty');

my %got;
$twice = 0;
while (1)
{
	my @got = map { "$_->[0]:$_->[1]" } rows($primary,
		"SELECT partition, position FROM mq_consume('s', 'g', 1000)");
	last unless @got;
	for (@got) { $twice++ if $got{$_}++; }
}
is(first_ten(grep { !$consumed{$_} && !$claimed{$_} && !$got{$_} } keys %appended), '',
	'group: every record not consumed before comes out');
is(first_ten(grep { $consumed{$_} } keys %got), '', 'group: no consumed record comes back');
is($twice, 0, 'group: no record twice');
cmp_ok(scalar(keys %sent), '>', 0, 'sends returned success');
cmp_ok(scalar(keys %acked), '>', 0, 'acks committed');
cmp_ok(scalar(keys %consumed), '>', 0, 'consumes committed');
note sprintf('%d sends, %d acks, %d appends, %d consumed, %d publishes returned success',
	scalar(keys %sent), scalar(keys %acked), scalar(keys %appended),
	scalar(keys %consumed), scalar(keys %published));

$primary->stop;
done_testing();
