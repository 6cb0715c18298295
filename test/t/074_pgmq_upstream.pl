# pgmq's own tests against the pgmq layer: its regression file (base.sql)
# and its isolation spec (transaction_tests.spec), at the release the layer
# follows, from a copy of pgmq's repository kept outside this one
# (scripts/pgmq-upstream.sh puts them in tmp/pgmq-upstream).
#
# base.sql runs in one psql session as pg_regress runs it.  Its output and
# pgmq's expected output are cut at each statement, and each statement's
# result is compared on its own, so that one statement that may differ
# (listed below, with the reason, as in docs/pgmq.md) does not hide the
# others.  The only normalisation is dropping CONTEXT lines, which name the
# functions of the implementation.
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run ();

my $dir = "$ENV{QUEUE_ROOT}/tmp/pgmq-upstream";
if (-f "$dir/MISSING" || !-f "$dir/TAG")
{
	my $why = -f "$dir/MISSING" ? slurp_file("$dir/MISSING") : "not extracted";
	chomp $why;
	plan skip_all => "pgmq's tests: $why";
}
my $tag = slurp_file("$dir/TAG");
chomp $tag;

# Statements of base.sql that are not expected to give pgmq's output, each
# with the reason (docs/pgmq.md lists the same): a pattern, the reason, and
# which of the statements the pattern matches it is (all when 0).
my @exceptions = (
	[ qr/EXTENSION (IF NOT EXISTS )?pg_partman/, 'pg_partman is not used', 0 ],
	[ qr/convert_archive_partitioned/, 'pg_partman case: archives are not partitioned', 0 ],
	[
		qr/create_partitioned\(\s*'test_partitioned_queue'/,
		'pg_partman case: create_partitioned without pg_partman works', 1
	],
	[
		qr/create_partitioned\(\s*'test_partitioned_queue'/,
		'pg_partman case: the call before made the queue, so this one gives the notices of an existing queue',
		2
	],
);
my %seen;

# Cut SQL text into statements: each chunk is the lines up to a ';' outside
# quotes and comments, or a psql meta-command line, with the comments and
# blank lines before it.
sub chunks
{
	my ($text) = @_;
	my (@chunks, $cur, $quote, $dollar);
	$cur = '';
	for my $line (split /(?<=\n)/, $text)
	{
		$cur .= $line;
		if (!defined $quote && !defined $dollar && $line =~ /^\s*\\/)
		{
			push @chunks, $cur;
			$cur = '';
			next;
		}
		my $end = 0;
		my $i = 0;
		while ($i < length $line)
		{
			my $rest = substr($line, $i);
			if (defined $dollar)
			{
				if (substr($rest, 0, length $dollar) eq $dollar)
				{
					$i += length $dollar;
					undef $dollar;
					next;
				}
			}
			elsif (defined $quote)
			{
				undef $quote if substr($rest, 0, 1) eq "'";
			}
			elsif ($rest =~ /^--/)
			{
				last;
			}
			elsif ($rest =~ /^(\$[A-Za-z_]*\$)/)
			{
				$dollar = $1;
				$i += length $1;
				next;
			}
			elsif (substr($rest, 0, 1) eq "'")
			{
				$quote = 1;
			}
			elsif (substr($rest, 0, 1) eq ';')
			{
				$end = 1;
			}
			elsif ($rest =~ /^\\g/)
			{
				$end = 1;
			}
			$i++;
		}
		if ($end && !defined $quote && !defined $dollar)
		{
			push @chunks, $cur;
			$cur = '';
		}
	}
	push @chunks, $cur if $cur =~ /\S/;
	return @chunks;
}

# The result of each chunk in psql's echoed output (psql -a, which echoes
# every line but empty ones): the lines between its echo and the next
# chunk's.
sub results
{
	my ($out, @chunks) = @_;
	my @lines = split /(?<=\n)/, $out;
	my @chunk_lines = map { [ grep { $_ ne "\n" } split /(?<=\n)/, $_ ] } @chunks;
	my $at = sub {    # does chunk $k's echo start at line $p?
		my ($k, $p) = @_;
		my $c = $chunk_lines[$k];
		return 0 if $p + @$c > @lines;
		for my $j (0 .. $#$c)
		{
			return 0 unless $lines[ $p + $j ] eq $c->[$j];
		}
		return 1;
	};
	my @res;
	my $p = 0;
	for my $k (0 .. $#chunks)
	{
		if (!$at->($k, $p))
		{
			push @res, undef while @res < @chunks;
			return @res;
		}
		$p += @{ $chunk_lines[$k] };
		my $start = $p;
		$p++ while $p < @lines && !($k < $#chunks && $at->($k + 1, $p));
		push @res, join('', @lines[ $start .. $p - 1 ]);
	}
	return @res;
}

sub normalise
{
	my ($r) = @_;
	return '(statement not found in the output)' unless defined $r;
	# CONTEXT and the lines of its call stack, up to the next message.
	$r =~ s/^CONTEXT:.*\n(?:(?!(?:ERROR|WARNING|NOTICE|INFO):).*\n)*//mg;
	return $r;
}

# pgmq's tests create the extension pgmq without CASCADE: queue is there.
my $node = QueueTest::new_node('pgmq_upstream');
$node->safe_psql('postgres', 'CREATE DATABASE pgmq_base');
$node->safe_psql('pgmq_base', 'CREATE EXTENSION queue');

# pg_regress' psql: echo all, quiet, errors in the same stream, its settings.
sub run_psql_file
{
	my ($file, $db) = @_;
	my $out = '';
	local $ENV{PGTZ} = 'PST8PDT';
	local $ENV{PGDATESTYLE} = 'Postgres, MDY';
	local $ENV{LC_MESSAGES} = 'C';
	local $ENV{PGAPPNAME} = 'pg_regress';
	IPC::Run::run(
		[
			'psql', '-X', '-a', '-q', '-d', $node->connstr($db),
			'-v', 'HIDE_TABLEAM=on', '-v', 'HIDE_TOAST_COMPRESSION=on'
		],
		'<', $file, '>&', \$out);
	return $out;
}

my $sql = slurp_file("$dir/sql/base.sql");
my $expected = slurp_file("$dir/expected/base.out");
my $actual = run_psql_file("$dir/sql/base.sql", 'pgmq_base');
my $outdir = $PostgreSQL::Test::Utils::tmp_check;
open my $fh, '>', "$outdir/pgmq_base.out" or die $!;
print $fh $actual;
close $fh;

my @chunks = chunks($sql);
my @want = results($expected, @chunks);
die "base.out does not follow base.sql: the statements were not cut right"
  if grep { !defined } @want;
my @got = results($actual, @chunks);
for my $k (0 .. $#chunks)
{
	my $stmt = $chunks[$k];
	# The statement itself, without the comments before it.
	(my $name = $stmt) =~ s/^(?:\s*--.*\n|\s*\n)*//;
	$name =~ s/\s+/ /g;
	$name = substr($name, 0, 70);
	next if $name eq '';
	my ($exception) = grep {
		my ($re, $why, $which) = @$_;
		$stmt =~ $re && (++$seen{$_} == $which || $which == 0)
	} @exceptions;
	if ($exception)
	{
	  SKIP:
		{
			skip "$tag base.sql: $name: $exception->[1]", 1;
		}
		next;
	}
	is(normalise($got[$k]), normalise($want[$k]), "$tag base.sql: $name");
}

# The isolation spec, by pg_isolation_regress against this server, with one
# change: its set-up's CREATE EXTENSION pg_partman is left out.
{
	my $tmp = PostgreSQL::Test::Utils::tempdir('iso');
	mkdir "$tmp/$_" or die "mkdir: $!" for qw(specs expected out);
	my $spec = slurp_file("$dir/specs/transaction_tests.spec");
	$spec =~ s/^\s*CREATE EXTENSION IF NOT EXISTS pg_partman;\n//m
	  or die "the spec's set-up has changed";
	open my $sf, '>', "$tmp/specs/transaction_tests.spec" or die $!;
	print $sf $spec;
	close $sf;
	open my $ef, '>', "$tmp/expected/transaction_tests.out" or die $!;
	print $ef slurp_file("$dir/expected/transaction_tests.out");
	close $ef;
	$node->safe_psql('postgres', 'CREATE DATABASE pgmq_iso');
	$node->safe_psql('pgmq_iso', 'CREATE EXTENSION queue');
	(my $isolation = $ENV{PG_REGRESS}) =~ s{regress/pg_regress$}{isolation/pg_isolation_regress};
	my $out = '';
	my $ok = IPC::Run::run(
		[
			$isolation, '--use-existing', '--host=' . $node->host,
			'--port=' . $node->port, '--dbname=pgmq_iso',
			"--inputdir=$tmp", "--outputdir=$tmp/out", 'transaction_tests'
		],
		'>&', \$out);
	my $diffs = -f "$tmp/out/regression.diffs" ? slurp_file("$tmp/out/regression.diffs") : '';
	ok($ok, "$tag transaction_tests.spec") or diag("$out\n$diffs");
}

done_testing();
