# The npm client pgmq-js (test/pgmq/js, its version pinned in
# package-lock.json), unchanged, against the pgmq layer: create, send,
# batch send, delayed send, read, set_vt, archive, delete, pop, metrics,
# purge, unlogged queues, detach, drop.  test/pgmq/js/client.js prints a
# line per step; each is a test here.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename ();
use File::Copy ();

my $src = File::Basename::dirname(__FILE__) . '/../pgmq/js';
my $tmp = PostgreSQL::Test::Utils::tempdir('pgmq_js');

my $nodejs = QueueTest::require_node();

# The client and its dependencies, by npm ci from the lock file, in a copy.
my $dir = "$tmp/js";
mkdir $dir or die "mkdir $dir: $!";
File::Copy::copy("$src/$_", $dir) or die "copy $_: $!"
  for qw(client.js package.json package-lock.json);
QueueTest::npm_ci($dir, "$tmp/npm-home");

# A server with queue preloaded and no extension yet: the client's own
# CREATE EXTENSION IF NOT EXISTS pgmq CASCADE creates both.
my $node = QueueTest::new_node('pgmq_js', extension => 0);
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{PGDATABASE} = 'postgres';
local $ENV{PGUSER} = $node->safe_psql('postgres', 'SELECT current_user');

my ($ok, $out) = QueueTest::run_command($nodejs, "$dir/client.js");
my $steps = 0;
for (split /\n/, $out)
{
	if (/^ok - (.*)/)
	{
		pass("pgmq-js: $1");
		$steps++;
	}
	elsif (/^not ok - (.*)/)
	{
		fail("pgmq-js: $1");
	}
}
ok($ok, 'the client ran to its end') or diag($out);
cmp_ok($steps, '>=', 20, 'every step of the client ran');

done_testing();
