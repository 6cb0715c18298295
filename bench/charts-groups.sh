#!/usr/bin/env bash
# Draw the charts of bench-long's "groups" scenario with gnuplot:
#
#   bench/charts-groups.sh <runs-dir> <out-dir>
#
# groups.png           msg/s of each comparison (groups.tsv: comparison,
#                      case, msg/s), the case judged against the other
# groups-fairness.png  each group's deliveries in the fairness run against
#                      an equal share (groups.fair: group|deliveries)
#
# The charts in docs/img are copies of the ones it drew.
set -euo pipefail

runs=$1
out=$2
command -v gnuplot >/dev/null || { echo "charts: gnuplot not found, no charts" >&2; exit 0; }

if [ -s "$runs/groups.tsv" ]; then
	gnuplot <<GP
set terminal pngcairo size 900,480 font "sans,10"
set output "$out/groups.png"
set title "Message groups: msg/s of each comparison (read + ack of 10 per transaction; send of 1)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set ylabel "messages per second"
set xtics scale 0 font ",9"
set grid ytics
set key top right
set datafile separator "\t"
plot "$runs/groups.tsv" using 2:xtic(1) title "reference (no groups; 1 000 000 groups; small groups alone)", \
     "" using 3 title "compared (10 000 groups; 10 groups; beside a hot group)"
GP
fi

if [ -s "$runs/groups.fair" ]; then
	mean=$(awk -F'|' '{ s += $2; n++ } END { print s / n }' "$runs/groups.fair")
	gnuplot <<GP
set terminal pngcairo size 800,420 font "sans,10"
set output "$out/groups-fairness.png"
set title "Fairness: deliveries per group in 5 s, the first group holding 90 % of the backlog"
set style data histograms
set style fill solid 0.85 border -1
set boxwidth 0.8
set yrange [0:$mean * 1.5]
set ylabel "deliveries"
set grid ytics
set datafile separator "|"
set key top left
plot "$runs/groups.fair" using 2:xtic(1) title "deliveries", \
     $mean * 1.1 with lines dt 2 lc rgb "#888888" title "equal share +/- 10 %", \
     $mean * 0.9 with lines dt 2 lc rgb "#888888" notitle
GP
fi
