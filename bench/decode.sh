#!/usr/bin/env bash
# Decode + resize 256 + crop 224 on one core: vistudy's load stage (load.PreprocessFile, libjpeg-turbo)
# against PIL 9.4 (Debian's /usr/bin/python3, one process) on the same 500 imagenet-sample JPEGs, measured
# side by side in one run, exact decoding and `decode: draft`. Prints images per second (wall) and per
# CPU second of each process; on a shared machine the CPU figure is the fair one.
# Usage: bench/decode.sh   (COUNT=5 for more rounds; GOFLAGS=-tags=nolibjpeg for the Go fallback)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
go test -c -o /tmp/vistudy-bench-decode.test ./bench # one build; then rounds alternate vistudy and PIL
out=$(cd bench && for _ in $(seq "$count"); do /tmp/vistudy-bench-decode.test -test.run '^$' -test.bench 'DecodeResizeCrop(Draft)?$' -test.benchtime 1x; done | tee >(cat >&2))
awk '
  function metric(unit,   i) { for (i = 1; i <= NF; i++) if ($i == unit) return $(i-1); return 0 }
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    wall[name] += metric("img/s"); cpu[name] += metric("img/cpu-s"); n[name]++
  }
  END {
    if (n["BenchmarkDecodeResizeCrop"] == 0 || n["BenchmarkPILDecodeResizeCrop"] == 0) { print "benchmarks skipped (is ../shared/data present, and python3-pil?)"; exit 0 }
    split("DecodeResizeCrop DecodeResizeCropDraft", kinds, " ")
    for (k = 1; k <= 2; k++) {
      g = "Benchmark" kinds[k]; p = "BenchmarkPIL" kinds[k]
      if (n[g] == 0 || n[p] == 0) continue
      printf "%-22s vistudy %6.1f img/s %6.1f img/cpu-s | PIL %6.1f img/s %6.1f img/cpu-s | ratio wall %.2f, cpu %.2f (mean of %d)\n",
        kinds[k], wall[g]/n[g], cpu[g]/n[g], wall[p]/n[p], cpu[p]/n[p], (wall[g]/n[g])/(wall[p]/n[p]), (cpu[g]/n[g])/(cpu[p]/n[p]), n[g]
    }
  }' <<<"$out"
