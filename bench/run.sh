#!/usr/bin/env bash
# Throughput of `vistudy run` (decode → plugin hop → ONNX Runtime → metric → Parquet) against a
# bare ONNX Runtime loop over the same preprocessed tensors: same model (SqueezeNet 1.1 fp16),
# batch size (32) and intra-op threads (2), measured in one run of this script.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
out=$(go test -run '^$' -bench 'BenchmarkRun$|BenchmarkBareORT$|BenchmarkLoad$' -benchtime 1x -count "$count" ./bench | tee /dev/stderr)
awk -v count="$count" '
  /^BenchmarkRun/     { for (i = 1; i <= NF; i++) if ($i == "img/s") { run += $(i-1); nr++ } }
  /^BenchmarkBareORT/ { for (i = 1; i <= NF; i++) if ($i == "img/s") { bare += $(i-1); nb++ } }
  /^BenchmarkLoad/    { for (i = 1; i <= NF; i++) if ($i == "img/s") { load += $(i-1); nl++ } }
  END {
    if (nr == 0 || nb == 0) { print "benchmarks skipped (is ../shared/data present?)"; exit 0 }
    printf "vistudy run: %.1f img/s   bare ONNX Runtime: %.1f img/s   ratio run/bare: %.3f (mean of %d)\n", run/nr, bare/nb, (run/nr)/(bare/nb), count
    if (nl > 0) printf "load stage alone (decode + resize + crop): %.1f img/s\n", load/nl
  }' <<<"$out"
