# The single server's pg_regress and pgTAP suites, run through queue_proxy
# against three shards (SPEC section 11): each file with fresh shards, its
# output compared with the single server's expected output once what
# PL/Proxy adds is taken out (the remote function and database before an
# error's message, "Remote detail:", contexts, its notice on reconnecting).
#
# What cannot apply through a proxy is listed in docs/scaling.md ("The
# suites through the proxy"), each file with its reason; this test reads
# that list, so the docs say what is run.  A listed file's output through
# the proxy is compared with test/expected-proxy/<file>.out (pgTAP's:
# pgtap_<file>.out) instead, so what it does through the proxy is pinned
# too, and it must still differ from the single server's (once it does
# not, it comes off the list).  Every other file must give the single
# server's output (pgTAP: every test ok).
use strict;
use warnings;
use FindBin;
use IPC::Run;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

QueueTest::skip_without_plproxy();

my $testdir = "$FindBin::Bin/..";
my $docs = "$ENV{QUEUE_DOCS}/docs/scaling.md";
my $out = "$PostgreSQL::Test::Utils::tmp_check/proxy_suites";
mkdir $out;

# The files that cannot apply, from the docs.
my %excluded;
open(my $fh, '<', $docs) or die "$docs: $!";
while (<$fh>)
{
	$excluded{"$1/$2"} = $3 if m{^\| `test/(sql|pgtap)/(\w+)\.sql` \| (.+?) \|$};
}
close $fh;
cmp_ok(scalar(keys %excluded), '>', 0, 'docs/scaling.md lists the files that cannot apply');
for my $f (sort keys %excluded)
{
	ok(-e "$testdir/$f.sql", "the listed $f.sql exists");
}

# Two lanes, each a proxy and three shards of its own, run two files at a
# time (most of the time goes to the files' own sleeps and waits).
my $roles = q{SELECT string_agg(quote_ident(rolname), ' ' ORDER BY rolname) FROM pg_roles};
my @lanes;
for my $l (0, 1)
{
	my ($proxy, $shards) = QueueTest::proxy_cluster(3, prefix => "lane${l}_");
	my $lane = { proxy => $proxy, shards => $shards, nodes => [ $proxy, @$shards ] };
	# pg_regress's database settings, on the proxy and on the shards
	# (which format what their messages show).
	for my $node (@{ $lane->{nodes} })
	{
		$node->safe_psql('postgres', qq{
			ALTER DATABASE postgres SET lc_messages TO 'C';
			ALTER DATABASE postgres SET lc_monetary TO 'C';
			ALTER DATABASE postgres SET lc_numeric TO 'C';
			ALTER DATABASE postgres SET lc_time TO 'C';
			ALTER DATABASE postgres SET bytea_output TO 'hex';
			ALTER DATABASE postgres SET timezone_abbreviations TO 'Default';
			ALTER DATABASE postgres SET datestyle TO 'Postgres, MDY';
			ALTER DATABASE postgres SET intervalstyle TO 'postgres_verbose';
			ALTER DATABASE postgres SET timezone TO 'PST8PDT';
			ALTER DATABASE postgres SET max_parallel_workers_per_gather TO 0;
		});
		$lane->{roles}{ $node->name } = $node->safe_psql('postgres', $roles);
	}
	$proxy->safe_psql('postgres', 'CREATE EXTENSION pgtap');
	push @lanes, $lane;
}

# Fresh shards, and the roles a file made (on the proxy) gone.
sub reset_lane
{
	my ($lane) = @_;
	for my $node (@{ $lane->{nodes} })
	{
		my %had = map { $_ => 1 } split / /, $lane->{roles}{ $node->name };
		my @made = grep { !$had{$_} } split / /, $node->safe_psql('postgres', $roles);
		$node->safe_psql('postgres', "DROP OWNED BY $_; DROP ROLE $_") for @made;
	}
	$_->safe_psql('postgres', 'DROP EXTENSION IF EXISTS queue CASCADE; CREATE EXTENSION queue')
	  for @{ $lane->{shards} };
}

# Start psql on a lane's proxy with a file as its input, in the test
# directory (as pg_regress runs it), its output and errors to one file.
sub start_file
{
	my ($lane, $file, $output, @flags) = @_;
	my $proxy = $lane->{proxy};
	return IPC::Run::start([ 'psql', '-X', @flags, '-h', $proxy->host, '-p', $proxy->port, '-d', 'postgres' ],
		'<', $file, '>', $output, '2>&1', init => sub { chdir $testdir });
}

# What PL/Proxy adds, taken out; and what psql shows of notices without
# their text (VERBOSITY sqlstate), which PL/Proxy's reconnect notice would
# add to.
sub normalize
{
	my @out;
	for (split /\n/, $_[0])
	{
		s/^(?:ERROR|WARNING|NOTICE):  (?:PL\/Proxy function )?[\w.]+\(\d+\): \[[^\]]*\] REMOTE (\w+): /$1:  /;
		s/^(DETAIL|HINT):  Remote (?:detail|hint): /$1:  /;
		next if /^CONTEXT:  / || /^(?:PL\/pgSQL|SQL) (?:function|statement) /;
		next if /^NOTICE:  (?:PL\/Proxy: dropping stale conn|00000)$/;
		# Through the proxy only: receipts and sockets differ run by run.
		s/unknown receipt \d+/unknown receipt N/;
		s/connection to server on socket "[^"]*"/connection to server on socket "S"/;
		push @out, $_;
	}
	return join("\n", @out) . "\n";
}

# The first lines of a diff of two texts (both kept in $out).
sub difference
{
	my ($name, $want, $have) = @_;
	my ($a, $b) = ("$out/$name.want", "$out/$name.have");
	for ([ $a, $want ], [ $b, $have ])
	{
		open(my $w, '>', $_->[0]) or die "$_->[0]: $!";
		print $w $_->[1];
		close $w;
	}
	my $diff = `diff -U2 $a $b | head -30`;
	return $diff;
}

# The files, regress first, each run on a free lane; its result is judged
# (in the order the files end) once it is done.
my @jobs = ((map { [ 'sql', $_ ] } sort glob "$testdir/sql/*.sql"),
	(map { [ 'pgtap', $_ ] } sort glob "$testdir/pgtap/*.sql"));
while (@jobs || grep { $_->{run} } @lanes)
{
	for my $lane (@lanes)
	{
		if ($lane->{run} && QueueTest::finished($lane->{run}))
		{
			$lane->{run}->finish;
			judge(@{ $lane->{job} }, slurp_file($lane->{output}));
			$lane->{run} = undef;
		}
		next if $lane->{run};
		my $job;
		while (@jobs && !$job)
		{
			$job = shift @jobs;
			my ($kind, $sql) = @$job;
			my ($name) = $sql =~ m{/(\w+)\.sql$};
			$job = undef if not_run("$kind/$name");
		}
		next unless $job;
		my ($kind, $sql) = @$job;
		my ($name) = $sql =~ m{/(\w+)\.sql$};
		reset_lane($lane);
		$lane->{job} = [ $kind, $name ];
		$lane->{output} = "$out/$kind.$name.raw";
		$lane->{run} = start_file($lane, $sql, $lane->{output},
			$kind eq 'sql' ? ('-a', '-q') : ('-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'));
	}
	usleep(50_000);
}

sub judge
{
	my ($kind, $name, $output) = @_;
	if ($kind eq 'sql')
	{
		my $have = normalize($output);
		my $want = normalize(slurp_file("$testdir/expected/$name.out"));
		check("sql/$name", "$name.out", $have, $have eq $want, sub { difference($name, $want, $have) });
		return;
	}
	my ($plan) = $output =~ /^1\.\.(\d+)$/m;
	my $ok = () = $output =~ /^ok \d+/mg;
	my @not_ok = $output =~ /^(not ok \d+.*)$/mg;
	my $pass = defined $plan && $ok == $plan && !@not_ok;
	check("pgtap/$name", "pgtap_$name.out", normalize($output), $pass, sub {
		join("\n", @not_ok[0 .. ($#not_ok < 4 ? $#not_ok : 4)],
			defined $plan ? "$ok of $plan ok" : 'no plan: ' . substr($output, -400));
	});
	return;
}

# A listed file whose reason says "not run" (its outcome through the proxy
# is a race) is not run.
sub not_run
{
	my ($file) = @_;
	return 0 unless ($excluded{$file} // '') =~ /\bnot run\b/;
	note("$file: not run ($excluded{$file})");
	return 1;
}

# A file not listed must pass; a listed one must give its output through
# the proxy, and not pass (or come off the list).
sub check
{
	my ($file, $proxy_out, $have, $pass, $why) = @_;
	open(my $w, '>', "$out/$proxy_out") or die "$out/$proxy_out: $!";
	print $w $have;
	close $w;
	if (!$excluded{$file})
	{
		ok($pass, "$file: the same through the proxy") or diag($why->());
		return;
	}
	ok(!$pass, "$file: listed as not applying through a proxy ($excluded{$file})")
	  or diag("$file passes through the proxy now: take it off the list in docs/scaling.md");
	# The output, or one of its alternatives <file>_<N>.out, for the
	# versions where PostgreSQL prints something else.
	(my $base = $proxy_out) =~ s/\.out$//;
	my @pinned = grep { -e } ("$testdir/expected-proxy/$proxy_out",
		sort glob "$testdir/expected-proxy/${base}_[0-9].out");
	my @want = map { normalize(slurp_file($_)) } @pinned;
	ok(scalar(grep { $_ eq $have } @want), "$file: what it gives through the proxy is test/expected-proxy/$proxy_out")
	  or diag(difference("pinned_$proxy_out", $want[0] // '', $have));
}

done_testing();
