# examples/node/relay.js, the webhook relay that acks each batch in the
# read of the next (mq_read's ack argument): 300 messages reach an HTTP
# endpoint at least once through three relays, one of them killed with
# SIGKILL mid-batch; messages the endpoint refuses are retried and arrive
# on their third delivery; the relays stop on SIGTERM with status 0 and
# leave the queue empty.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy ();
use IPC::Run ();
use Time::HiRes qw(usleep);

my $examples = $ENV{QUEUE_EXAMPLES} // die "QUEUE_EXAMPLES is not set";
my $tmp = PostgreSQL::Test::Utils::tempdir('relay');
my $logs = $PostgreSQL::Test::Utils::log_path;
my $nodejs = QueueTest::require_node();

# The example with node-postgres, by npm ci from its lock file, in a copy.
my $dir = "$tmp/node";
mkdir $dir or die "mkdir $dir: $!";
File::Copy::copy($_, $dir) or die "copy $_: $!"
  for glob("$examples/node/*.js $examples/node/package.json $examples/node/package-lock.json");
QueueTest::npm_ci($dir, "$tmp/npm-home");

# The endpoint: answers 500 to the first fail_times deliveries of a
# message (a field of its body), 200 after, and logs "status id delivery".
my $received = "$tmp/received";
open my $fh, '>', "$tmp/endpoint.mjs" or die;
print $fh <<'JS';
import http from 'node:http';
import fs from 'node:fs';
const log = fs.openSync(process.argv[2], 'a');
const server = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => {
    const body = JSON.parse(data);
    const delivery = Number(req.headers['queue-delivery']);
    const status = delivery <= (body.fail_times ?? 0) ? 500 : 200;
    fs.writeSync(log, `${status} ${req.headers['queue-message-id']} ${delivery}\n`);
    res.writeHead(status).end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
JS
close $fh;
my ($port, $eerr) = ('', '');
my $endpoint = IPC::Run::start([ $nodejs, "$tmp/endpoint.mjs", $received ],
	'<', \undef, '>', \$port, '2>', \$eerr);
$endpoint->pump until $port =~ /^\d+\n/ or !$endpoint->pumpable;
chomp $port;
like($port, qr/^\d+$/, 'the endpoint listens');

my $node = QueueTest::new_node('relay');
$node->safe_psql('postgres', q{
	SELECT mq_create_queue('hooks_failed');
	SELECT mq_create_queue('hooks', visibility_timeout => '3 seconds', max_deliveries => 5,
	                       dead_letter_queue => 'hooks_failed');
	SELECT mq_send_batch('hooks', array_agg(jsonb_build_object('n', i,
	                     'fail_times', CASE WHEN i % 50 = 0 THEN 2 ELSE 0 END) ORDER BY i))
	  FROM generate_series(1, 300) i;
});
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{PGDATABASE} = 'postgres';
local $ENV{PGUSER} = $node->safe_psql('postgres', 'SELECT current_user');

my %relays;
sub start_relay
{
	my ($name) = @_;
	$relays{$name} = IPC::Run::start(
		[ $nodejs, "$dir/relay.js", '--queue', 'hooks', '--url', "http://127.0.0.1:$port/hooks",
		  '--name', $name, '--batch', '10', '--wait', '1', '--retry-base', '0.2' ],
		'<', \undef, '>>', "$logs/relay_$name.log", '2>>', "$logs/relay_$name.log");
	return;
}
sub lines { open my $f, '<', $received or return (); my @l = <$f>; close $f; return @l }

start_relay('r1');
start_relay('r2');
# r1 dies mid-run, holding a leased batch nobody acks: its leases end and
# the messages go to the other relays.
usleep(100_000) until grep({ /^200 / } lines()) >= 40;
$relays{r1}->signal('KILL');
$relays{r1}->finish;
start_relay('r3');

ok(defined QueueTest::poll_until($node, 'postgres',
		q{SELECT depth FROM mq_queues WHERE queue = 'hooks'}, '0', 60),
	'the queue is empty: every message was acked');
for my $name (qw(r2 r3))
{
	$relays{$name}->signal('TERM');
	ok($relays{$name}->finish, "$name stops with status 0 on SIGTERM");
}
$endpoint->kill_kill;

my (%ok, %tries);
for (lines())
{
	my ($status, $id, $delivery) = split;
	$tries{$id}++;
	$ok{$id} = $delivery if $status == 200 && !exists $ok{$id};
}
my @ids = split /\n/, $node->safe_psql('postgres', q{SELECT generate_series(1, 300)});
is(scalar(grep { !exists $ok{$_} } @ids), 0, 'every message reached the endpoint with a 200');
is_deeply([ map { $ok{$_} } grep { $_ % 50 == 0 } @ids ], [ (3) x 6 ],
	'a message refused twice arrived on its third delivery');
my $twice = grep { $tries{$_} > 1 && $_ % 50 != 0 } @ids;
cmp_ok($twice, '<=', 20, "messages delivered again ($twice): at most those the killed relay held");
is($node->safe_psql('postgres', q{SELECT depth FROM mq_queues WHERE queue = 'hooks_failed'}), '0',
	'nothing was dead-lettered');
is($node->safe_psql('postgres', q{SELECT acked FROM mq_stats WHERE queue = 'hooks'}), '300',
	'300 acks, each message once');

done_testing();
