#!/usr/bin/perl
# The install script of queue_proxy (SPEC section 11), made at build time
# from the install script of queue itself, so the proxy offers exactly the
# functions, arguments, defaults and result types of the release it is
# built with:
#
#   scripts/gen-proxy.pl sql/queue.sql proxy/routes proxy/queue_proxy.sql VERSION
#
# proxy/routes says where each public function runs; proxy/queue_proxy.sql
# holds what is written by hand (mq_shard_of, the row types of the views,
# the bodies of the wrapped functions).  The build fails when a function of
# queue has no route, a route names no function, a wrapped function has no
# body or a view no row type.
use strict;
use warnings;

die "usage: $0 queue.sql routes proxy.sql version\n" unless @ARGV == 4;
my ($queue_sql, $routes_file, $proxy_sql, $version) = @ARGV;

sub slurp
{
	my ($file) = @_;
	open(my $fh, '<', $file) or die "$file: $!\n";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# The statements of a script, comments removed; quotes, quoted identifiers
# and dollar quotes are kept whole.
sub statements
{
	my ($text) = @_;
	my (@out, $cur);
	$cur = '';
	while (length $text)
	{
		if ($text =~ s/^(--[^\n]*)//)
		{
			next;
		}
		elsif ($text =~ s{^/\*.*?\*/}{}s)
		{
			next;
		}
		elsif ($text =~ s/^('(?:[^']|'')*')//s || $text =~ s/^("(?:[^"]|"")*")//s)
		{
			$cur .= $1;
		}
		elsif ($text =~ s/^(\$(\w*)\$.*?\$\2\$)//s)
		{
			$cur .= $1;
		}
		elsif ($text =~ s/^;//)
		{
			push @out, $cur if $cur =~ /\S/;
			$cur = '';
		}
		else
		{
			$text =~ s/^([^'"\$;\/-]+|.)//s;
			$cur .= $1;
		}
	}
	push @out, $cur if $cur =~ /\S/;
	s/^\s+|\s+$//g for @out;
	s/[ \t]+$//mg for @out;
	return @out;
}

# The text inside the parentheses that open at the start of $s, and the rest.
sub balanced
{
	my ($s) = @_;
	my $depth = 0;
	my $quote = '';
	for my $i (0 .. length($s) - 1)
	{
		my $c = substr($s, $i, 1);
		if ($quote)
		{
			$quote = '' if $c eq $quote;
			next;
		}
		if ($c eq "'" || $c eq '"') { $quote = $c; next; }
		$depth++ if $c eq '(';
		$depth-- if $c eq ')';
		return (substr($s, 1, $i - 1), substr($s, $i + 1)) if $depth == 0;
	}
	die "unbalanced parentheses in: $s\n";
}

# Split at commas outside parentheses and quotes.
sub split_top
{
	my ($s) = @_;
	my (@parts, $cur, $depth, $quote);
	$cur = '';
	$depth = 0;
	$quote = '';
	for my $c (split //, $s)
	{
		if ($quote) { $quote = '' if $c eq $quote; }
		elsif ($c eq "'" || $c eq '"') { $quote = $c; }
		elsif ($c eq '(') { $depth++; }
		elsif ($c eq ')') { $depth--; }
		elsif ($c eq ',' && $depth == 0) { push @parts, $cur; $cur = ''; next; }
		$cur .= $c;
	}
	push @parts, $cur if $cur =~ /\S/;
	s/^\s+|\s+$//g for @parts;
	s/\s+/ /g for @parts;
	return @parts;
}

# --- queue's public surface -------------------------------------------------

my (@functions, @types, @views, @acls);
for my $st (statements(slurp($queue_sql)))
{
	if ($st =~ /^CREATE\s+FUNCTION\s+(mq_\w+)\s*(\(.*)$/s)
	{
		my $name = $1;
		my ($args, $rest) = balanced($2);
		$rest =~ /^\s*RETURNS\s+(.*)$/s or die "$name: no RETURNS\n";
		$rest = $1;
		my $returns;
		if ($rest =~ /^(TABLE\s*)(\(.*)$/s)
		{
			my ($cols) = balanced($2);
			$returns = "TABLE($cols)";
		}
		else
		{
			$rest =~ /^(.*?)\s+(?:LANGUAGE|IMMUTABLE|STABLE|VOLATILE|STRICT|PARALLEL|SECURITY|COST|ROWS|AS)\b/s
			  or die "$name: cannot read RETURNS\n";
			$returns = $1;
		}
		$returns =~ s/\s+/ /g;
		my @args;
		for my $a (split_top($args))
		{
			$a =~ /^(?:IN\s+)?("?\w+"?)\s+(.*?)(?:\s+DEFAULT\s+(.*))?$/i
			  or die "$name: cannot read argument \"$a\"\n";
			push @args, { name => $1, type => $2, default => $3 };
		}
		push @functions, { name => $name, args => \@args, returns => $returns };
	}
	elsif ($st =~ /^CREATE\s+TYPE\s+mq_\w+/)
	{
		push @types, $st;
	}
	elsif ($st =~ /^CREATE\s+VIEW\s+(mq_\w+)/)
	{
		push @views, $1;
	}
	elsif ($st =~ /^(?:GRANT|REVOKE)\s.*\sON\s+FUNCTION\s+(mq_\w+)\s*\((.*)\)\s+(?:FROM|TO)\s/s)
	{
		push @acls, { sql => $st, name => $1 };
	}
}
die "$queue_sql: no functions found\n" unless @functions;

# --- routes ------------------------------------------------------------------

my %route;
for my $line (split /\n/, slurp($routes_file))
{
	$line =~ s/#.*//;
	next unless $line =~ /\S/;
	my ($fn, $how, $arg) = split ' ', $line;
	die "$routes_file: \"$fn\" is routed twice\n" if $route{$fn};
	die "$routes_file: \"$fn\": unknown route \"$how\"\n"
	  unless $how =~ /^(key|any|all|each|wrapped)$/;
	die "$routes_file: \"$fn\": $how needs an argument\n"
	  if ($how eq 'key' || $how eq 'all' || $how eq 'each') && !defined $arg;
	$route{$fn} = { how => $how, arg => $arg };
}
my %seen;
$seen{ $_->{name} } = 1 for @functions;
for my $fn (sort keys %route)
{
	die "$routes_file: \"$fn\" is not a function of $queue_sql\n" unless $seen{$fn};
}
for my $fn (sort keys %seen)
{
	die "$routes_file: no route for $fn (every function of $queue_sql needs one)\n"
	  unless $route{$fn};
}

# --- hand-written part -------------------------------------------------------

my $hand = slurp($proxy_sql);
my %body;
# "-- wrapper: <function> [<function> ...]", the body, "-- end wrapper".
while ($hand =~ s/^-- wrapper: (mq_\w+(?: mq_\w+)*)\n(.*?)^-- end wrapper\n//ms)
{
	my ($names, $text) = ($1, $2);
	for my $fn (split / /, $names)
	{
		die "$proxy_sql: two bodies for $fn\n" if $body{$fn};
		$body{$fn} = $text;
	}
}
for my $fn (sort keys %route)
{
	next unless $route{$fn}{how} eq 'wrapped';
	die "$proxy_sql: no wrapper body for $fn\n" unless $body{$fn};
}
for my $fn (sort keys %body)
{
	die "$proxy_sql: $fn has a body but is not wrapped in $routes_file\n"
	  unless $route{$fn} && $route{$fn}{how} eq 'wrapped';
}
for my $v (@views)
{
	(my $row = $v) =~ s/^mq_/mq./;
	die "$proxy_sql: no row type ${row}_row for the view $v\n"
	  unless $hand =~ /CREATE TYPE \Q$row\E_row AS/;
}

# --- output ------------------------------------------------------------------

sub arglist
{
	my ($f, $defaults) = @_;
	return join(",\n    ",
		map { "$_->{name} $_->{type}" . ($defaults && defined $_->{default} ? " DEFAULT $_->{default}" : '') }
		  @{ $f->{args} });
}

sub argnames
{
	my ($f) = @_;
	return join(', ', map { $_->{name} } @{ $f->{args} });
}

sub check_arg
{
	my ($f, $arg) = @_;
	die "$routes_file: $f->{name} has no argument \"$arg\"\n"
	  unless grep { $_->{name} eq $arg } @{ $f->{args} };
}

# PL/Proxy's RUN ON for a call routed by its argument $arg, a name (a NULL
# name goes to the shard of '', which reports it).
sub run_on_name
{
	my ($f, $arg) = @_;
	check_arg($f, $arg);
	return "hashtext(coalesce($arg, ''))";
}

sub plproxy
{
	my ($name, $args, $returns, $run, $target, $select) = @_;
	my $t = $target ? "\n    TARGET $target;" : '';
	$t .= "\n    $select;" if $select;
	return "CREATE FUNCTION $name(\n    $args)\nRETURNS $returns\nLANGUAGE plproxy AS \$\$\n"
	  . "    CLUSTER 'queue';\n    RUN ON $run;$t\n\$\$;\n\n";
}

my $out = "-- queue_proxy $version: generated by scripts/gen-proxy.pl from sql/queue.sql,\n"
  . "-- proxy/routes and proxy/queue_proxy.sql.  Do not edit.\n\n"
  . "\\echo Use \"CREATE EXTENSION queue_proxy\" to load this file. \\quit\n\n"
  . "CREATE SCHEMA mq;\nGRANT USAGE ON SCHEMA mq TO PUBLIC;\n\n";
$out .= "$_;\n\n" for @types;

# The internal functions of a function on several shards, and the FROM
# items that call them: mq.<function>_all on every shard at once (PL/Proxy's
# RUN ON ALL), mq.<function>_at on one shard, called for each shard in turn
# (the order, and so the notices and the first error, are always the same).
sub on_every_shard
{
	my ($f, $how) = @_;
	die "$f->{name}: on several shards, but returns a set\n" if $f->{returns} =~ /^(SETOF|TABLE)/;
	(my $internal = $f->{name}) =~ s/^/mq./;
	my $names = argnames($f);
	if ($how eq 'all')
	{
		$out .= plproxy("${internal}_all", arglist($f, 0), "SETOF $f->{returns}", 'ALL', $f->{name});
		return "${internal}_all($names) r";
	}
	my $call = join(', ', map { "$_->{name}::$_->{type}" } @{ $f->{args} });
	$out .= plproxy("${internal}_at", "shard int,\n    " . arglist($f, 0), "SETOF $f->{returns}", 'shard', undef,
		"SELECT r::$f->{returns} FROM $f->{name}($call) r");
	return "mq.shards() s (shard) CROSS JOIN LATERAL ${internal}_at(s.shard, $names) r";
}

my @wrappers;
for my $f (@functions)
{
	my $r = $route{ $f->{name} };
	my $how = $r->{how};
	my $sig = arglist($f, 1);
	if ($how eq 'key')
	{
		$out .= plproxy($f->{name}, $sig, $f->{returns}, run_on_name($f, $r->{arg}));
	}
	elsif ($how eq 'any')
	{
		$out .= plproxy($f->{name}, $sig, $f->{returns}, 'ANY');
	}
	elsif ($how eq 'all' || $how eq 'each')
	{
		my $from = on_every_shard($f, $how);
		my $select = $r->{arg} eq 'none' ? "SELECT count(*) FROM $from"
		  : "SELECT $r->{arg}(r)::$f->{returns} FROM $from";
		$out .= "CREATE FUNCTION $f->{name}(\n    $sig)\nRETURNS $f->{returns}\n"
		  . "LANGUAGE sql VOLATILE AS \$\$\n    $select\n\$\$;\n\n";
	}
	else
	{
		(my $internal = $f->{name}) =~ s/^/mq./;
		my $body = $body{ $f->{name} };
		if ($body =~ /\@key\@/)
		{
			die "$routes_file: $f->{name}: \@key\@ needs an argument to route by\n" unless defined $r->{arg};
			$out .= plproxy("${internal}_key", arglist($f, 0), $f->{returns},
				run_on_name($f, $r->{arg}), $f->{name});
			$body =~ s/\@key\@/${internal}_key(@{[argnames($f)]})/g;
		}
		for my $each ('all', 'each')
		{
			next unless $body =~ /\@$each\@/;
			my $from = on_every_shard($f, $each);
			$body =~ s/\@$each\@/$from/g;
		}
		$body =~ s/\@version\@/$version/g;
		die "$proxy_sql: $f->{name}: unknown placeholder $1\n" if $body =~ /(\@\w+\@)/;
		push @wrappers, "CREATE FUNCTION $f->{name}(\n    $sig)\nRETURNS $f->{returns}\n"
		  . "LANGUAGE plpgsql VOLATILE AS \$w\$\n$body\$w\$;\n\n";
	}
}

$hand =~ s/^\s+//;
$out .= $hand . "\n" . join('', @wrappers);

# Who may execute what, as in queue.  The functions a wrapped function
# calls (mq.<function>_key, _all) stay open: the shard checks again, as the
# same role.
$out .= "$_->{sql};\n" for @acls;
$out .= "\n" if @acls;

for my $v (@views)
{
	(my $row = $v) =~ s/^mq_/mq./;
	$out .= plproxy("${row}_at", 'shard int', "SETOF ${row}_row", 'shard');
	$out =~ s/(RUN ON shard;)\n\$\$;\n\n$/$1\n    SELECT * FROM $v;\n\$\$;\n\n/;
	$out .= "CREATE VIEW $v AS\nSELECT s.shard, v.*\n  FROM mq.shards() s (shard)\n"
	  . " CROSS JOIN LATERAL ${row}_at(s.shard) v;\nGRANT SELECT ON $v TO PUBLIC;\n\n";
}

print $out;
