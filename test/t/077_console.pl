# The web console (console/): its server tests and its browser tests in
# headless Chromium, run by node's test runner against a server with queue.
# Dependencies come by npm ci from console/package-lock.json into a copy;
# the page is built there.  Each test of the runner is a test here;
# screenshots are kept in tmp_check/console-artifacts.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy ();
use File::Find ();
use File::Path ();

my $src = ($ENV{QUEUE_ROOT} // die 'QUEUE_ROOT is not set') . '/console';
my $tmp = PostgreSQL::Test::Utils::tempdir('console');

my $nodejs = QueueTest::require_node();

# A copy of the console without what a checkout may have built in it.
my $dir = "$tmp/console";
File::Find::find(
	{
		no_chdir => 1,
		preprocess => sub { grep { !/^(node_modules|dist|test-artifacts)$/ } @_ },
		wanted => sub {
			(my $rel = $File::Find::name) =~ s/^\Q$src\E//;
			if (-d $_) { File::Path::make_path("$dir$rel") }
			else { File::Copy::copy($_, "$dir$rel") or die "copy $_: $!" }
		},
	},
	$src);
QueueTest::npm_ci($dir, "$tmp/home");
my ($built, $why) = QueueTest::run_command($nodejs, "$dir/build.js");
die "building the page failed:\n$why" unless $built;

my $node = QueueTest::new_node('console');
my $artifacts = "${PostgreSQL::Test::Utils::tmp_check}/console-artifacts";
File::Path::make_path($artifacts);
my $user = $node->safe_psql('postgres', 'SELECT current_user');
# The worked example's objects, which the overview must list.
my ($rc, $demo_out, $demo_err) = $node->psql('postgres', undef,
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', "$ENV{QUEUE_ROOT}/scripts/demo.sql" ]);
is($rc, 0, 'the worked example ran') or diag($demo_err);
local $ENV{HOME} = "$tmp/home";
local $ENV{QUEUE_CONSOLE_TEST_DB} = join ' ', 'host=' . $node->host, 'port=' . $node->port,
  'dbname=postgres', "user=$user";
local $ENV{QUEUE_CONSOLE_ARTIFACTS} = $artifacts;

my @files = map { "$dir/test/$_" } qw(server.test.js browser.test.js);
my ($ok, $out) = QueueTest::run_command($nodejs, '--test', '--test-concurrency=1',
	"--test-reporter=$dir/test/reporter.js", @files);
my %seen;
my @lines = split /\n/, $out;
for my $i (0 .. $#lines)
{
	my $line = $lines[$i];
	if ($line =~ /^ok - (.*)/) { pass($1); $seen{ (split /:/, $1)[0] }++ }
	elsif ($line =~ /^skip - (.*)/) { SKIP: { skip $1, 1 } $seen{ (split /:/, $1)[0] }++ }
	elsif ($line =~ /^not ok - (.*)/)
	{
		my @why;
		push @why, $lines[$_] for grep { $lines[$_] =~ /^    / } ($i + 1 .. ($i + 12 < $#lines ? $i + 12 : $#lines));
		fail($1);
		diag(join "\n", @why);
		$seen{ (split /:/, $1)[0] }++;
	}
}
ok($ok, 'the test runner ran to its end and every test passed') or diag($out);
ok($seen{server} && $seen{server} >= 10, 'the server tests ran');
ok($seen{browser}, 'the browser tests ran');
note("screenshots: $artifacts");

done_testing();
