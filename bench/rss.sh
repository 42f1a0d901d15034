#!/usr/bin/env bash
# Peak memory of the study of bench/run.sh at 10× the dataset ÷ at 1× (a manifest listing the 500
# imagenet-sample images once, and 10 times through folders of links), in one run: the whole process
# tree's peak (vistudy and its plugins, summed, sampled every 10 ms) and the largest single
# process's (getrusage). Usage: bench/rss.sh   (COUNT=2 for the maxima of more runs)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench '^BenchmarkPeakRSS$' -benchtime "${COUNT:-1}x" ./bench | tee >(cat >&2) | awk '
  function metric(unit,   i) { for (i = 1; i <= NF; i++) if ($i == unit) return $(i-1); return 0 }
  /peak-10x\/1x/ {
    printf "process tree: %.0f MB at 1x, %.0f MB at 10x, ratio %.3f | largest process: %.0f MB, %.0f MB, ratio %.3f\n",
      metric("peak-MB-1x"), metric("peak-MB-10x"), metric("peak-10x/1x"), metric("maxrss-MB-1x"), metric("maxrss-MB-10x"), metric("maxrss-10x/1x")
  }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
