# Every committed send survives an immediate shutdown in the middle of a
# load, and nothing uncommitted is there afterwards; an acked message never
# comes back.
#
# Producers (psql processes) send in a loop; each send runs in a transaction
# that also records the returned id in a ledger table, and prints the id
# once COMMIT has returned.  One producer sends batches, one rolls every
# other transaction back.  Two consumers read and ack, recording what they
# acked in a table in the same transaction as the ack (one reads in that
# transaction too, one reads in an earlier one).  The server is stopped with
# an immediate shutdown while all of them run; after the restart:
#
#   stored ids  = ledger - consumed       consumed is a subset of the ledger
#   every id a producer saw committed is in the ledger
#   every id a consumer saw committed is in consumed, and not stored
#   no id of a rolled-back send is stored
#   every stored message is ready at once (no lease survives)
#
# Three rounds of load, crash and restart on the same data.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $rounds = 3;
my $per_round = 4000;         # ledger rows to add before each crash
my $loops = 10000;            # transactions in each script: never reached

my $node = QueueTest::new_node('crash_load',
	conf => [ 'log_statement = none', 'max_connections = 30' ]);
$node->safe_psql(
	'postgres', q{
	SELECT mq_create_queue('q');
	CREATE TABLE ledger (id bigint PRIMARY KEY, producer text NOT NULL);
	CREATE TABLE consumed (id bigint PRIMARY KEY, consumer text NOT NULL);
});
my $table = QueueTest::storage_table($node, 'q');
my $dir = PostgreSQL::Test::Utils::tempdir;

# The scripts.  Each prints "s <ids>" for committed sends, "r <ids>" for
# rolled-back ones, "c <ids>" for committed acks, and "done" at its end.
sub single_producer
{
	my ($tag, $rollback_every) = @_;
	my $s = '';
	for my $i (1 .. $loops)
	{
		my $end =
		  ($rollback_every && $i % $rollback_every == 0) ? 'ROLLBACK' : 'COMMIT';
		my $mark = $end eq 'COMMIT' ? 's' : 'r';
		$s .= "BEGIN;\n"
		  . "SELECT mq_send('q', '{\"p\": \"$tag\", \"i\": $i}') AS id \\gset\n"
		  . "INSERT INTO ledger VALUES (:id, '$tag');\n"
		  . "$end;\n\\echo $mark :id\n";
	}
	return $s . "\\echo done\n";
}

sub batch_producer
{
	my ($tag) = @_;
	my $s = '';
	for my $i (1 .. $loops)
	{
		$s .= "BEGIN;\n"
		  . "SELECT array_agg(id) AS ids FROM mq_send_batch('q', "
		  . "array_fill('{\"p\": \"$tag\", \"i\": $i}'::jsonb, ARRAY[7])) id \\gset\n"
		  . "INSERT INTO ledger SELECT unnest(:'ids'::bigint[]), '$tag';\n"
		  . "COMMIT;\n\\echo s :ids\n";
	}
	return $s . "\\echo done\n";
}

# Read and ack in one transaction.
sub consumer_one_xact
{
	my ($tag) = @_;
	my $s = '';
	for my $i (1 .. $loops)
	{
		$s .= "BEGIN;\n"
		  . "SELECT coalesce(array_agg(id), '{}') AS ids, "
		  . "coalesce(array_agg(receipt), '{}') AS rs "
		  . "FROM mq_read('q', 5, '1 hour') \\gset\n"
		  . "SELECT mq_ack('q', :'rs'::bigint[]) AS n \\gset\n"
		  . "INSERT INTO consumed SELECT unnest(:'ids'::bigint[]), '$tag';\n"
		  . "COMMIT;\n\\echo c :ids\n";
	}
	return $s . "\\echo done\n";
}

# Read in autocommit, ack in a later transaction.
sub consumer_two_xacts
{
	my ($tag) = @_;
	my $s = '';
	for my $i (1 .. $loops)
	{
		$s .= "SELECT coalesce(array_agg(id), '{}') AS ids, "
		  . "coalesce(array_agg(receipt), '{}') AS rs "
		  . "FROM mq_read('q', 3, '1 hour') \\gset\n"
		  . "BEGIN;\n"
		  . "SELECT mq_ack('q', :'rs'::bigint[]) AS n \\gset\n"
		  . "INSERT INTO consumed SELECT unnest(:'ids'::bigint[]), '$tag';\n"
		  . "COMMIT;\n\\echo c :ids\n";
	}
	return $s . "\\echo done\n";
}

sub ids_of
{
	my ($text) = @_;
	$text =~ s/[{}]//g;
	return grep { $_ ne '' } split /,/, $text;
}

sub query_ids
{
	my ($sql) = @_;
	my %ids = map { $_ => 1 } split /\n/, $node->safe_psql('postgres', $sql);
	return \%ids;
}

sub missing
{
	my ($want, $have) = @_;
	my @m = sort { $a <=> $b } grep { !$have->{$_} } keys %$want;
	return @m;
}

my %seen_sent;        # ids producers saw committed
my %seen_consumed;    # ids consumers saw committed

for my $round (1 .. $rounds)
{
	my %clients = (
		"p1.$round" => single_producer("p1.$round", 0),
		"p2.$round" => single_producer("p2.$round", 0),
		"p3.$round" => single_producer("p3.$round", 2),
		"b4.$round" => batch_producer("b4.$round"),
		"c1.$round" => consumer_one_xact("c1.$round"),
		"c2.$round" => consumer_two_xacts("c2.$round"));
	my %runs;

	# Ids producers saw rolled back in this round.  Checked right after this
	# round's crash only: a sequence value that no commit made durable may
	# be handed out again after a crash.
	my %seen_rolled;

	my $start = $node->safe_psql('postgres', 'SELECT count(*) FROM ledger');
	for my $tag (sort keys %clients)
	{
		PostgreSQL::Test::Utils::append_to_file("$dir/$tag.sql", $clients{$tag});
		$runs{$tag} = QueueTest::psql_script($node, "$dir/$tag.sql",
			"$dir/$tag.out", "$dir/$tag.err");
	}

	# Crash once the load has added enough, every client took part, and the
	# consumers have acked something; give up early if a client failed.
	my $target = $start + $per_round;
	my $ready = 0;
	for (1 .. 1200)
	{
		last if grep { -s "$dir/$_.err" } keys %runs;
		$ready = $node->safe_psql(
			'postgres', qq{
			SELECT count(*) >= $target
			   AND count(DISTINCT producer) FILTER (WHERE producer LIKE '%.$round') = 4
			   AND (SELECT count(DISTINCT consumer) FROM consumed
					 WHERE consumer LIKE '%.$round') = 2
			  FROM ledger}) eq 't';
		last if $ready;
		usleep(100_000);
	}
	ok($ready, "round $round: load under way");
	$node->stop('immediate');

	my %err;
	for my $tag (sort keys %runs)
	{
		$runs{$tag}->finish;
		my $out = slurp_file("$dir/$tag.out");
		$err{$tag} = slurp_file("$dir/$tag.err");
		unlike($out, qr/^done$/m, "round $round: $tag was still running at the crash");
		unlike($err{$tag}, qr/ERROR:/, "round $round: $tag saw no SQL error");
		for my $line (split /\n/, $out)
		{
			my ($mark, $ids) = $line =~ /^([src]) (.*)$/ or next;
			my $set =
				$mark eq 's' ? \%seen_sent
			  : $mark eq 'r' ? \%seen_rolled
			  :                \%seen_consumed;
			$set->{$_} = 1 for ids_of($ids);
		}
	}

	$node->start;

	my $stored = query_ids("SELECT id FROM $table");
	my $ledger = query_ids('SELECT id FROM ledger');
	my $consumed = query_ids('SELECT id FROM consumed');
	my %expected = map { $_ => 1 } grep { !$consumed->{$_} } keys %$ledger;
	note sprintf(
		'round %d: %d stored, %d in the ledger, %d consumed; '
		  . 'clients saw %d sends, %d rollbacks, %d acks',
		$round,
		scalar(keys %$stored),
		scalar(keys %$ledger),
		scalar(keys %$consumed),
		scalar(keys %seen_sent),
		scalar(keys %seen_rolled),
		scalar(keys %seen_consumed));

	is(join(',', missing(\%expected, $stored)),
		'', "round $round: every committed send not consumed is stored");
	is(join(',', missing($stored, \%expected)),
		'', "round $round: every stored message is committed and not consumed");
	is(join(',', missing($consumed, $ledger)),
		'', "round $round: every consumed message was sent");
	is(join(',', missing(\%seen_sent, $ledger)),
		'', "round $round: every send a producer saw committed is in the ledger");
	is(join(',', missing(\%seen_consumed, $consumed)),
		'', "round $round: every ack a consumer saw committed is recorded");
	is(join(',', grep { $stored->{$_} } sort keys %seen_consumed),
		'', "round $round: no acked message came back");
	is(join(',', grep { $stored->{$_} || $ledger->{$_} } sort keys %seen_rolled),
		'', "round $round: no rolled-back send is stored");
	ok(scalar(keys %seen_rolled) > 0, "round $round: some sends were rolled back");

	# No lease survives the crash: every stored message is ready at once.
	my $depth = scalar keys %$stored;
	is( $node->safe_psql(
			'postgres', "SELECT depth, ready, inflight, delayed
			               FROM mq_queues WHERE queue = 'q'"),
		"$depth|$depth|0|0",
		"round $round: figures after the crash");
	my $peek = query_ids("SELECT id FROM mq_peek('q', 10000)");
	is(scalar(keys %$peek), $depth < 10000 ? $depth : 10000,
		"round $round: every stored message is ready");
	is(join(',', missing($peek, $stored)),
		'', "round $round: peek shows stored messages only");
}

# Finally every stored message can be read and acked, once.
my $stored = query_ids("SELECT id FROM $table");
my %read;
my $dups = 0;
while (1)
{
	my $got = $node->safe_psql(
		'postgres', q{
		WITH r AS (SELECT id, receipt FROM mq_read('q', 1000, '1 hour'))
		SELECT string_agg(id::text, ',') FROM r WHERE mq_ack('q', receipt)});
	last if $got eq '';
	for (split /,/, $got)
	{
		$dups++ if $read{$_};
		$read{$_} = 1;
	}
}
is_deeply(\%read, $stored,
	'every stored message is read and acked after the crashes');
is($dups, 0, 'no message was read twice');
is($node->safe_psql('postgres', "SELECT count(*) FROM $table"), '0', 'queue empty');

$node->stop;
done_testing();
