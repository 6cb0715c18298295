# The SQL examples of README.md and docs/*.md run top to bottom and print
# what the docs show.
#
# Each document with ```sql blocks runs in a fresh database (CREATE DATABASE,
# CREATE EXTENSION queue), its blocks in order through one psql session
# (psql -X -v ON_ERROR_STOP=1), so a block may use what earlier blocks of
# the same document made, psql variables set with \gset included, and an
# error fails the test, named by file and line.  The rules the docs follow
# (README.md, "Examples in the docs are tested"):
#
# - A ```text block right after a ```sql block (blank lines between are
#   allowed) shows what psql prints for the sql block's last statement: its
#   messages (NOTICE, WARNING, ERROR with DETAIL and HINT) first, as psql
#   shows them, then its result.  When it shows an ERROR, that statement
#   may fail; any other error fails the test.
# - The output is compared line by line, all of it, to the row count.  Runs
#   of spaces count as one space, and the padding of psql's columns does
#   not count: spaces at the end of a line, next to a "|", before the "+"
#   that marks a value continued on the next line, and the length of the
#   dashes under a header.  "…" stands for any text within a line: the
#   docs write it for what differs from run to run (receipts, times).
# - A ```sql block that must not run says so, with the reason, on the line
#   before its fence: <!-- not run: <reason> -->.  Blocks of other languages
#   (sh, yaml, plain ```) are not run, and must not look like psql output
#   (a dashed header line, a row count, "ERROR:"), so that no output shown
#   goes unchecked.
#
# Roles a document creates are dropped after it, with its database, so
# every document starts from the same cluster.  The documents are read from
# $QUEUE_DOCS (scripts/test.sh copies README.md and docs/*.md there).
use strict;
use warnings;
use QueueTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $src = $ENV{QUEUE_DOCS} // die "QUEUE_DOCS is not set";
my @docs = ('README.md', map { "docs/$_" } sort map { s{.*/}{}r } glob "$src/docs/*.md");
-f "$src/$_" or die "$src/$_ is missing" for @docs;

# The files are handled as bytes (UTF-8) throughout.
my $ellipsis = "\xe2\x80\xa6";    # "…", the wildcard of an output block
my $marker = '@@docs-test';

# The fenced blocks of a document: { lang, line (of the opening fence),
# text (indentation of the fence removed), not_run (the reason given by a
# marker on the line before, or undef),
# after (the block this one directly follows, or undef) }.
sub blocks
{
	my ($file) = @_;
	open my $fh, '<', $file or die "cannot read $file: $!";
	my @lines = <$fh>;
	close $fh;
	my (@blocks, $open, $last_closed, $prev);
	for my $n (0 .. $#lines)
	{
		my $line = $lines[$n];
		if ($open)
		{
			if ($line =~ /^\s*```\s*$/)
			{
				push @blocks, $open;
				$last_closed = $open;
				$open = undef;
			}
			else
			{
				$line =~ s/^\Q$open->{indent}\E//;
				$open->{text} .= $line;
			}
			next;
		}
		if ($line =~ /^(\s*)```\s*(\S*)\s*$/)
		{
			my ($indent, $lang) = ($1, $2);
			my ($reason) = defined $prev
			  && $prev =~ /^\s*<!--\s*not run:\s*(.*?)\s*-->\s*$/;
			$open = {
				lang => $lang,
				line => $n + 1,
				indent => $indent,
				text => '',
				not_run => $reason,
				after => $last_closed
			};
			$prev = $line;
			next;
		}
		# Only blank lines may stand between a block and its output.
		$last_closed = undef if $line =~ /\S/;
		$prev = $line;
	}
	die "$file: a block opened at line $open->{line} is not closed\n" if $open;
	return @blocks;
}

# Split SQL text the way psql does: a ";" outside quotes, dollar quotes and
# comments ends a statement, and a backslash command ends the statement
# before it and runs to the end of its line.  Comments and blank lines after
# the last statement stay with it.  Returns the pieces, which put together
# give the text again.
sub statements
{
	my ($text) = @_;
	my (@pieces, $cur);
	$cur = '';
	pos($text) = 0;
	while (pos($text) < length $text)
	{
		if ($text =~ /\G(--[^\n]*|\/\*.*?\*\/|'(?:[^']|'')*'|"(?:[^"]|"")*")/gcs)
		{
			$cur .= $1;
		}
		elsif ($text =~ /\G(\$(?:[A-Za-z_]\w*)?\$)/gc)
		{
			my $tag = $1;
			$text =~ /\G(.*?\Q$tag\E)/gcs or die "unterminated dollar quote\n";
			$cur .= $tag . $1;
		}
		elsif ($text =~ /\G(\\[^\n]*)/gc)
		{
			push @pieces, $cur . $1;
			$cur = '';
		}
		elsif ($text =~ /\G([^-\/'"\$\\;]+|.)/gcs)
		{
			$cur .= $1;
			if ($1 eq ';')
			{
				push @pieces, $cur;
				$cur = '';
			}
		}
	}
	my $code = sub { my $t = shift; $t =~ s/--[^\n]*|\/\*.*?\*\/|\s+//gsr ne '' };
	die "a statement is not terminated (no ';')\n" if $code->($cur);
	$pieces[-1] .= $cur if @pieces;
	# Pieces that are only comments belong to the statement before.
	my @out;
	for my $p (@pieces)
	{
		if (@out && !$code->($p)) { $out[-1] .= $p; }
		else { push @out, $p; }
	}
	return @out;
}

# What the docs' comparison looks at.
sub normalise
{
	my ($text) = @_;
	my @lines = split /\n/, $text;
	for (@lines)
	{
		s/\s+$//;
		s/ {2,}/ /g;
		s/-+/-/g if /^[-+ ]+$/;    # the dashes under a header
		s/ ?\| ?/|/g;              # the padding of a column
		s/ \+$/+/;                 # and before the "+" of a wrapped value
	}
	pop @lines while @lines && $lines[-1] eq '';
	shift @lines while @lines && $lines[0] eq '';
	return @lines;
}

sub output_matches
{
	my ($expected, $actual) = @_;
	my @want = normalise($expected);
	my @got = normalise($actual);
	return 0 unless @want == @got;
	for my $i (0 .. $#want)
	{
		my $re = join '.*?', map { quotemeta } split /\Q$ellipsis\E/, $want[$i], -1;
		return 0 unless $got[$i] =~ /^$re$/;
	}
	return 1;
}

# Does a block that is not compared look like psql output?
sub looks_like_output
{
	my ($text) = @_;
	return $text =~ /^\s*-+(?:\+-+)+\s*$/m
	  || $text =~ /^\s*-{3,}\s*$/m && $text =~ /\|/
	  || $text =~ /^\(\d+ rows?\)$/m
	  || $text =~ /^(?:ERROR|WARNING|NOTICE|DETAIL|HINT):  /m;
}

my $node = QueueTest::new_node('docs');
my %roles_before = map { $_ => 1 } split /\n/,
  $node->safe_psql('postgres', 'SELECT rolname FROM pg_roles');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $dbno = 0;

for my $doc (@docs)
{
	my @blocks = blocks("$src/$doc");
	my @run;         # the sql blocks that run, in order
	my %output;      # block (by line) => its expected output block
	my @unchecked;   # blocks that look like output but are not compared

	for my $b (@blocks)
	{
		my $where = "$doc:$b->{line}";
		if ($b->{lang} eq 'text')
		{
			my $sql = $b->{after};
			if (!$sql || $sql->{lang} ne 'sql' || defined $sql->{not_run})
			{
				fail("$where: an output block follows a sql block that runs");
				next;
			}
			$output{ $sql->{line} } = $b;
		}
		elsif ($b->{lang} eq 'sql')
		{
			push @run, $b unless defined $b->{not_run};
		}
		elsif (looks_like_output($b->{text}))
		{
			push @unchecked, $b->{line};
		}
		fail("$where: only ```sql blocks are marked \"not run\"")
		  if defined $b->{not_run} && $b->{lang} ne 'sql';
		fail("$where: a \"not run\" marker gives the reason")
		  if defined $b->{not_run} && $b->{not_run} eq '';
	}
	is(join(', ', @unchecked), '',
		"$doc: psql output is shown only in ```text blocks after ```sql blocks")
	  or diag("lines of blocks that look like psql output: @unchecked");
	next unless @run;

	# The script: each block behind a marker, and the last statement of a
	# block with an output behind one of its own.
	my $script = '';
	for my $i (0 .. $#run)
	{
		my $b = $run[$i];
		my $out = $output{ $b->{line} };
		my @st = eval { statements($b->{text}) };
		if ($@ || !@st)
		{
			fail("$doc:$b->{line}: the block is whole statements")
			  or diag($@ || 'no statement');
			next;
		}
		$script .= "\\echo '$marker block $i'\n\\warn '$marker block $i'\n";
		if (!$out)
		{
			$script .= $b->{text};
			next;
		}
		my $last = pop @st;
		my $error = $out->{text} =~ /^ERROR:/m;
		$script .= join('', @st)
		  . "\n\\echo '$marker last $i'\n\\warn '$marker last $i'\n"
		  . ($error ? "\\set ON_ERROR_STOP 0\n" : '')
		  . $last
		  . ($error ? "\n\\set ON_ERROR_STOP 1\n" : "\n");
	}
	$script .= "\\echo '$marker end'\n";

	my $db = 'docs_' . ++$dbno;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION queue');
	my $file = "$dir/$db.sql";
	PostgreSQL::Test::Utils::append_to_file($file, $script);
	my ($stdout, $stderr) = ('', '');
	my $start = time;
	IPC::Run::run(
		[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
		'<', \undef, '>', \$stdout, '2>', \$stderr);
	my $status = $? >> 8;

	# Cut the output at the markers: "block i" and "last i" sections.
	my (%out, %err, %reached);
	for my $pair ([ \$stdout, \%out ], [ \$stderr, \%err ])
	{
		my ($text, $parts) = @$pair;
		my $key = 'before';
		for my $line (split /(?<=\n)/, $$text)
		{
			if ($line =~ /^\Q$marker\E (block \d+|last \d+|end)$/)
			{
				$key = $1;
				$reached{$key} = 1 if $text == \$stdout;
				next;
			}
			$line =~ s/^psql:[^\n]*?:\d+: //;
			$parts->{$key} .= $line;
		}
	}

	# Name the block that stopped psql, if one did.
	ok($status == 0 && $reached{end}, "$doc: every sql block runs")
	  or do
	{
		my ($n) = (reverse($stderr =~ /^\Q$marker\E (?:block|last) (\d+)$/mg))[0];
		diag(defined $n
			? "$doc:$run[$n]{line}: the block failed:\n"
			  . ($err{"block $n"} // '') . ($err{"last $n"} // '')
			: "psql failed:\n$stderr");
	};

	for my $i (0 .. $#run)
	{
		my $b = $run[$i];
		my $want = $output{ $b->{line} } or next;
		my $name = "$doc:$want->{line}: the output of the block at line $b->{line}";
		if (!$reached{"last $i"})
		{
			fail("$name (not reached)");
			next;
		}
		my $got = ($err{"last $i"} // '') . ($out{"last $i"} // '');
		ok(output_matches($want->{text}, $got), $name)
		  or diag("expected:\n$want->{text}\nprinted:\n$got");
	}

	# The next document starts from a clean cluster.
	$node->safe_psql('postgres', "DROP DATABASE $db WITH (FORCE)");
	for my $role (split /\n/, $node->safe_psql('postgres', 'SELECT rolname FROM pg_roles'))
	{
		$node->safe_psql('postgres', qq{DROP ROLE "$role"}) unless $roles_before{$role};
	}
	note("$doc: " . (time - $start) . " s");
}

$node->stop;
done_testing();
