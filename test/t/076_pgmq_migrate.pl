# Moving from a real pgmq to the pgmq layer with pgmq/pgmq-migrate.sh: a
# server with pgmq's own extension (a private installation,
# scripts/pgmq-real.sh, from the copy of pgmq's repository outside this
# one) holds queues with read, delayed, deleted and archived messages; the
# script copies them to a server with the layer, and the layer then shows
# what pgmq showed -- every message with its id, read_ct, times, body and
# headers, every archive row, the queues' flags and figures -- and goes on
# with the ids pgmq would have given.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run ();

my $root = $ENV{QUEUE_ROOT};
if (!-d "$root/tmp/pgmq-upstream/ext")
{
	plan skip_all => "no pgmq extension files: scripts/pgmq-upstream.sh found no copy of pgmq's repository";
}

my $layer = QueueTest::new_node('pgmq_layer');
my $major = $layer->pg_version->major;
my $tmp = PostgreSQL::Test::Utils::tempdir('pgmq_real');
my ($bin) = `PG=$major $root/scripts/pgmq-real.sh $tmp/install`;
chomp $bin if defined $bin;
die "scripts/pgmq-real.sh failed" unless $bin && -x "$bin/postgres";
(my $install = $bin) =~ s{/bin$}{};

my $real = PostgreSQL::Test::Cluster->new('pgmq_real', install_path => $install);
$real->init;
$real->start;
$real->safe_psql('postgres', 'CREATE EXTENSION pgmq');
is($real->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pgmq'"),
	'1.5.1', "the real pgmq's server has pgmq 1.5.1");

# Queues in every state pgmq has: read (read_ct), delayed, deleted (a gap
# in the ids), archived, NULL messages and headers; an unlogged queue; an
# empty queue whose ids went on; a name in capitals.
$real->safe_psql(
	'postgres', q{
	SELECT pgmq.create('orders');
	SELECT pgmq.send_batch('orders', ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, 8) g));
	SELECT pgmq.send('orders', '{"n": 9}', '{"trace": "t9"}'::jsonb);
	SELECT pgmq.send('orders', NULL);
	SELECT pgmq.send('orders', '{"later": true}', 3600);
	SELECT count(*) FROM pgmq.read('orders', 600, 2);
	SELECT count(*) FROM pgmq.read('orders', 0, 1);
	SELECT pgmq.delete('orders', 4);
	SELECT pgmq.archive('orders', ARRAY[5, 6]::bigint[]);
	SELECT pgmq.create_unlogged('scratch');
	SELECT pgmq.send('scratch', '{"u": 1}');
	SELECT pgmq.create('drained');
	SELECT pgmq.send_batch('drained', ARRAY['1', '2', '3']::jsonb[]);
	SELECT pgmq.delete('drained', ARRAY[1, 2, 3]::bigint[]);
	SELECT pgmq.create('Mixed');
	SELECT pgmq.send('Mixed', '{"m": 1}');
});

my @queues = ('orders', 'scratch', 'drained', 'mixed');
my %q_of = map {
	my $q = $_;
	$q => $real->safe_psql('postgres',
		"SELECT string_agg(concat_ws(' ', msg_id, read_ct, enqueued_at, vt, message, headers), E'\\n' ORDER BY msg_id)
		   FROM pgmq.q_$q")
} @queues;
my %a_of = map {
	my $q = $_;
	$q => $real->safe_psql('postgres',
		"SELECT string_agg(concat_ws(' ', msg_id, read_ct, enqueued_at, archived_at, vt, message, headers), E'\\n' ORDER BY msg_id)
		   FROM pgmq.a_$q")
} @queues;
my $list_sql = "SELECT string_agg(concat_ws(' ', queue_name, is_partitioned, is_unlogged), ',' ORDER BY queue_name)
                  FROM pgmq.list_queues()";
my $metrics_sql = "SELECT string_agg(concat_ws(' ', queue_name, queue_length, total_messages), ',' ORDER BY queue_name)
                     FROM pgmq.metrics_all()";
my $list = $real->safe_psql('postgres', $list_sql);
my $metrics = $real->safe_psql('postgres', $metrics_sql);

# The copy.
my ($ret, $out, $err);
{
	local $ENV{PATH} = "$ENV{PATH}";
	($ret, $out, $err) = (0, '', '');
	my $cmd = [
		"$root/pgmq/pgmq-migrate.sh", $real->connstr('postgres'),
		$layer->connstr('postgres')
	];
	$ret = IPC::Run::run($cmd, '>', \$out, '2>', \$err) ? 0 : 1;
}
is($ret, 0, 'pgmq-migrate.sh copies every queue') or diag("$out\n$err");
is( $out,
	"Mixed: 1 messages, 0 archived\ndrained: 0 messages, 0 archived\n"
	  . "orders: 8 messages, 2 archived\nscratch: 1 messages, 0 archived\n",
	'one line per queue, in the order of their names');

for my $q (@queues)
{
	is($layer->safe_psql('postgres',
		"SELECT string_agg(concat_ws(' ', msg_id, read_ct, enqueued_at, vt, message, headers), E'\\n' ORDER BY msg_id)
		   FROM pgmq.q_$q"), $q_of{$q}, "$q: every message, as pgmq had it");
	is($layer->safe_psql('postgres',
		"SELECT string_agg(concat_ws(' ', msg_id, read_ct, enqueued_at, archived_at, vt, message, headers), E'\\n' ORDER BY msg_id)
		   FROM pgmq.a_$q"), $a_of{$q}, "$q: every archive row");
}
is($layer->safe_psql('postgres', $list_sql), $list, 'list_queues as pgmq had it');
is($layer->safe_psql('postgres', $metrics_sql), $metrics, 'queue lengths and total messages as pgmq had them');

# Ids go on where pgmq's would have; the messages work on.
for my $q (@queues)
{
	is( $layer->safe_psql('postgres', "SELECT * FROM pgmq.send('$q', '{\"next\": true}')"),
		$real->safe_psql('postgres', "SELECT * FROM pgmq.send('$q', '{\"next\": true}')"),
		"$q: the next id is the one pgmq gives");
}
is( $layer->safe_psql('postgres',
		"SELECT string_agg(msg_id || ':' || read_ct, ',' ORDER BY msg_id) FROM pgmq.read('orders', 30, 20)"),
	$real->safe_psql('postgres',
		"SELECT string_agg(msg_id || ':' || read_ct, ',' ORDER BY msg_id) FROM pgmq.read('orders', 30, 20)"),
	'orders: a read takes the same messages with the same read counts');

# Into a queue that has messages: refused, nothing copied.
$layer->safe_psql('postgres', "SELECT pgmq.create('busy'); SELECT pgmq.send('busy', '{}')");
$real->safe_psql('postgres', "SELECT pgmq.create('busy'); SELECT pgmq.send('busy', '{\"b\": 1}')");
$ret = IPC::Run::run(
	[ "$root/pgmq/pgmq-migrate.sh", $real->connstr('postgres'), $layer->connstr('postgres'), 'busy' ],
	'>', \$out, '2>', \$err) ? 0 : 1;
isnt($ret, 0, 'a target queue with messages is refused');
is($layer->safe_psql('postgres', "SELECT count(*) FROM pgmq.q_busy"), '1', 'and nothing was copied into it');

$real->stop;
done_testing();
