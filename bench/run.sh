#!/usr/bin/env bash
# Whole `vistudy run` against the serial-sum bound B = cores / (t_PIL + t_ORT), all measured in this
# run, in alternating rounds: BenchmarkRun (load → infer → accuracy of SqueezeNet 1.1 fp16 over the
# 500 imagenet-sample images, batch 32, default threads, start-up and finish included),
# BenchmarkPILDecodeResizeCrop (t_PIL: PIL 9.4's decode + resize 256 + crop 224 per image, one core)
# and BenchmarkBareORT1 (t_ORT: bare ONNX Runtime per image on one intra-op thread, same model and batch).
# Prints, per round and as the mean of the rounds, run img/s ÷ B (wall clock, the definition) and
# the same with CPU seconds (the run's whole process tree against PIL's and ORT's own CPU time),
# fairer on a shared machine; and the load average before and after. Each round also runs
# BenchmarkBareORT1Chunk (bare ONNX Runtime on one thread in runs of 4 images, as the runtime
# plugin runs a batch on the CPU) and prints the stricter bound B_chunk = cores / (t_PIL +
# t_ORT,chunk) and run ÷ B_chunk.
# Usage: bench/run.sh   (COUNT=5 for more rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
cores=$(nproc)
go test -c -o /tmp/vistudy-bench-run.test ./bench
echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(cd bench && for _ in $(seq "$count"); do
  /tmp/vistudy-bench-run.test -test.run '^$' -test.bench '^(BenchmarkRun|BenchmarkBareORT1|BenchmarkBareORT1Chunk|BenchmarkPILDecodeResizeCrop)$' -test.benchtime 1x
done | tee >(cat >&2))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v cores="$cores" '
  function metric(unit,   i) { for (i = 1; i <= NF; i++) if ($i == unit) return $(i-1); return 0 }
  # go test prints the name of a benchmark and its figures on separate lines when it logs in between
  /^Benchmark/                        { name = $1 }
  /img\/s/ && name ~ /^BenchmarkRun-/ { rw = metric("img/s"); rc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkBareORT1-/ { ow = metric("img/s"); oc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkPILDecodeResizeCrop-/ { pw = metric("img/s"); pc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkBareORT1Chunk-/ { kw = metric("img/s"); kc = metric("img/cpu-s") }
  rw > 0 && ow > 0 && pw > 0 && kw > 0 {
    n++
    bw = cores / (1/pw + 1/ow)
    wall = rw / bw; cpu = rc * (1/pc + 1/oc)
    bk = cores / (1/pw + 1/kw); kcpu = rc * (1/pc + 1/kc)
    printf "round %d: run %.1f img/s; t_PIL %.2f ms, t_ORT %.2f ms, B %.1f img/s; run/B %.3f (wall) | CPU: run %.1f img/cpu-s, t_PIL+t_ORT %.2f ms, ratio %.3f | t_ORT,chunk %.2f ms, B_chunk %.1f img/s, run/B_chunk %.3f (wall), %.3f (CPU)\n", n, rw, 1000/pw, 1000/ow, bw, wall, rc, 1000/pc + 1000/oc, cpu, 1000/kw, bk, rw/bk, kcpu
    sw += wall; sc += cpu; srw += rw; sbw += bw; sbk += bk; sk += rw/bk; skc += kcpu
    rw = ow = pw = kw = 0
  }
  END {
    if (n == 0) { print "benchmarks skipped (is ../shared/data present, and python3-pil?)"; exit 0 }
    printf "mean of %d rounds: run %.1f img/s, B %.1f img/s, run/B %.3f (wall), %.3f (CPU); B_chunk %.1f img/s, run/B_chunk %.3f (wall), %.3f (CPU)\n", n, srw/n, sbw/n, sw/n, sc/n, sbk/n, sk/n, skc/n
  }' <<<"$out"
