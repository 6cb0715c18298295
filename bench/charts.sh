#!/usr/bin/env bash
# Draw the charts of a benchmark run with gnuplot:
#
#   bench/charts.sh <results.tsv> <out-dir> [wake latency files ...]
#
# throughput.png  median msg/s per workload: the queue (or the stream, the
#                 keyed send, the publish, the group) against its baseline
#                 (raw SQL, the plain send, ten sends, INSERT, PgQ batches)
#                 and, where measured, PgQ; logarithmic scale.
# wake.png        the distribution of long-poll wake latencies (commit to
#                 receipt) over every round, as a CDF.
#
# bench/run.sh calls it at the end of a run; the charts in docs/ are copies
# of the ones it drew.
set -euo pipefail

results=$1
out=$2
shift 2
latencies=("$@")
command -v gnuplot >/dev/null || { echo "charts: gnuplot not found, no charts" >&2; exit 0; }

data=$(mktemp)
lat=$(mktemp)
trap 'rm -f "$data" "$lat"' EXIT

# One line per workload: name, ours, baseline, PgQ (medians; "-" if none).
# The first two contenders of a workload are ours and its baseline, in the
# order bench/lib.sh lists them; pgq, when present, is the third.
. "$(dirname "$0")/lib.sh"
awk -F'\t' '!seen[$2]++ { print $2 }' "$results" >"$data.names"
: >"$data"
while read -r w; do
	IFS='|' read -r _ _ contenders _ <<<"$(workload "$w")"
	set -- $contenders
	awk -F'\t' -v w="$w" -v a="$1" -v b="$2" -v c="${3:-}" "$AWK_MEDIAN"'
		$2 == w { rate[$3] = rate[$3] " " $4 }
		END {
			ma = median(rate[a]); mb = median(rate[b]); mc = (c == "" ? "" : median(rate[c]))
			printf "%s\t%s\t%s\t%s\n", w, (ma == "" ? "-" : ma), (mb == "" ? "-" : mb), (mc == "" ? "-" : mc)
		}' "$results" >>"$data"
done <"$data.names"
rm -f "$data.names"

if [ -s "$data" ]; then
	gnuplot <<GP
set terminal pngcairo size 1000,520 font "sans,10"
set output "$out/throughput.png"
set title "Throughput per workload (median msg/s, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1000:*]
set ylabel "messages per second"
set xtics rotate by -30 scale 0
set key top left
set grid ytics
set datafile separator "\t"
set datafile missing "-"
plot "$data" using 2:xtic(1) title "queue (stream, keyed, publish, group)", \
     "" using 3 title "baseline (raw SQL, plain send, 10 sends, INSERT, PgQ batches)", \
     "" using 4 title "PgQ"
GP
fi

if [ ${#latencies[@]} -gt 0 ]; then
	sort -g "${latencies[@]}" >"$lat"
	if [ -s "$lat" ]; then
		gnuplot <<GP
set terminal pngcairo size 800,480 font "sans,10"
set output "$out/wake.png"
n = system("wc -l < $lat") + 0
set title sprintf("Long-poll wake latency, commit to receipt (%d messages)", n)
set logscale x
set xlabel "milliseconds (log scale)"
set ylabel "fraction of messages"
set yrange [0:1]
set grid
set key bottom right
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb "#888888"
set arrow from 5, graph 0 to 5, graph 1 nohead dt 2 lc rgb "#888888"
plot "$lat" using 1:(\$0 + 1) / n with steps lw 2 title "CDF (dashed: 1 ms and 5 ms targets)"
GP
	fi
fi
