#!/usr/bin/env perl
# Flame graphs from perf call graphs, in two steps:
#
#   perf script -i perf.data | bench/flamegraph.pl --fold > profile.folded
#   bench/flamegraph.pl --svg --title "read + ack" < profile.folded > profile.svg
#
# --fold turns perf script's samples into one line per distinct stack,
# "root;caller;...;leaf count", with symbol offsets dropped and unknown
# frames named by their object ([queue.so], [unknown]).  --svg draws the
# folded stacks: the root at the bottom, a frame as wide as its share of the
# samples, callers of one frame ordered by name, a tooltip (title) with the
# samples and the share of each frame.  --top N prints the N frames with the
# most samples of their own (self) and in all (total) instead.
use strict;
use warnings;
use Getopt::Long;

my ($fold, $svg, $top, $title, $width, $min_px) = (0, 0, 0, 'CPU profile', 1200, 0.5);
GetOptions(
	'fold' => \$fold,
	'svg' => \$svg,
	'top=i' => \$top,
	'title=s' => \$title,
	'width=i' => \$width,
	'min-width=f' => \$min_px) or die "usage: $0 --fold | --svg [--title T] | --top N\n";
die "usage: $0 --fold | --svg [--title T] | --top N\n" unless $fold + $svg + ($top > 0) == 1;

if ($fold)
{
	my (%count, @frames, $in_sample);
	my $flush = sub {
		$count{ join ';', reverse @frames }++ if @frames;
		@frames = ();
	};
	while (my $line = <STDIN>)
	{
		chomp $line;
		if ($line =~ /^\S/)
		{
			$flush->();
			$in_sample = 1;
		}
		elsif ($line =~ /^\s*$/)
		{
			$flush->();
			$in_sample = 0;
		}
		elsif ($in_sample && $line =~ /^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/)
		{
			my ($sym, $dso) = ($1, $2);
			$sym =~ s/\+0x[0-9a-f]+$//;
			if ($sym eq '[unknown]' || $sym eq '')
			{
				(my $obj = $dso) =~ s{.*/}{};
				$sym = "[$obj]";
			}
			$sym =~ s/;/:/g;
			push @frames, $sym;
		}
	}
	$flush->();
	print "$_ $count{$_}\n" for sort keys %count;
	exit 0;
}

# The folded stacks as a tree: { name, count, children => { name => node } }.
my $root = { name => 'all', count => 0, children => {} };
while (my $line = <STDIN>)
{
	next unless $line =~ /^(.*) (\d+)$/;
	my ($stack, $n) = ($1, $2);
	my $node = $root;
	$node->{count} += $n;
	for my $f (split /;/, $stack)
	{
		$node = $node->{children}{$f} //= { name => $f, count => 0, children => {} };
		$node->{count} += $n;
	}
}
my $total = $root->{count} or die "no samples\n";

if ($top)
{
	my (%self, %all);
	my $walk;
	$walk = sub {
		my ($node, $seen) = @_;
		my $kids = 0;
		$kids += $_->{count} for values %{ $node->{children} };
		$self{ $node->{name} } += $node->{count} - $kids;
		# A recursive frame counts once in "total".
		$all{ $node->{name} } += $node->{count} unless $seen->{ $node->{name} };
		local $seen->{ $node->{name} } = 1;
		$walk->($_, $seen) for values %{ $node->{children} };
	};
	$walk->($_, {}) for values %{ $root->{children} };
	printf "%-60s %7s %7s\n", 'frame', 'self', 'total';
	for my $f ((sort { $self{$b} <=> $self{$a} || $a cmp $b } keys %self)[0 .. $top - 1])
	{
		last unless defined $f;
		printf "%-60s %6.1f%% %6.1f%%\n", substr($f, 0, 60), 100 * $self{$f} / $total,
		  100 * $all{$f} / $total;
	}
	exit 0;
}

# The drawing.
my ($fh, $pad, $font) = (16, 10, 11);
my $depth = 0;
my $measure;
$measure = sub {
	my ($node, $d) = @_;
	$depth = $d if $d > $depth;
	$measure->($_, $d + 1) for values %{ $node->{children} };
};
$measure->($root, 0);
my $height = ($depth + 1) * $fh + 3 * $pad + 2 * $font;
my $scale = ($width - 2 * $pad) / $total;

sub esc
{
	my ($s) = @_;
	$s =~ s/&/&amp;/g;
	$s =~ s/</&lt;/g;
	$s =~ s/>/&gt;/g;
	$s =~ s/"/&quot;/g;
	return $s;
}

# Warm colours, the same for the same name in every graph.
sub colour
{
	my ($name) = @_;
	my $h = 0;
	$h = ($h * 31 + ord $_) % 1000003 for split //, $name;
	my $r = 200 + $h % 55;
	my $g = 90 + int($h / 55) % 130;
	my $b = 40 + int($h / 7150) % 50;
	return "rgb($r,$g,$b)";
}

my @out;
push @out, qq{<?xml version="1.0" encoding="UTF-8"?>\n};
push @out, qq{<svg xmlns="http://www.w3.org/2000/svg" width="$width" height="$height" }
  . qq{viewBox="0 0 $width $height" font-family="Verdana, sans-serif" font-size="$font">\n};
push @out, qq{<rect width="100%" height="100%" fill="#fdfdf6"/>\n};
push @out, sprintf qq{<text x="%d" y="%d" text-anchor="middle" font-size="%d">%s (%d samples)</text>\n},
  $width / 2, $pad + $font, $font + 2, esc($title), $total;

my $draw;
$draw = sub {
	my ($node, $x, $d) = @_;
	my $w = $node->{count} * $scale;
	return if $w < $min_px;
	my $y = $height - $pad - ($d + 1) * $fh;
	my $share = sprintf '%.2f%%', 100 * $node->{count} / $total;
	my $label = $node->{name};
	my $chars = int(($w - 4) / ($font * 0.6));
	$label = $chars >= 3 ? (length $label > $chars ? substr($label, 0, $chars - 2) . '..' : $label) : '';
	push @out, sprintf qq{<g><title>%s (%d samples, %s)</title>}
	  . qq{<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="2" fill="%s"/>}
	  . qq{<text x="%.1f" y="%d">%s</text></g>\n},
	  esc($node->{name}), $node->{count}, $share, $x, $y, $w, $fh - 1,
	  $d == 0 ? 'rgb(220,220,210)' : colour($node->{name}), $x + 3, $y + $fh - 4, esc($label);
	my $cx = $x;
	for my $c (sort { $a->{name} cmp $b->{name} } values %{ $node->{children} })
	{
		$draw->($c, $cx, $d + 1);
		$cx += $c->{count} * $scale;
	}
};
$draw->($root, $pad, 0);
push @out, "</svg>\n";
print @out;
