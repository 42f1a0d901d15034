#!/usr/bin/env bash
# Whole `vistudy run` against the serial-sum bound B = cores / (t_PIL + t_ORT), all measured in this
# run, in alternating rounds: BenchmarkRun (load → infer → accuracy of SqueezeNet 1.1 fp16 over the
# 500 imagenet-sample images, batch 32, default threads, start-up and finish included),
# BenchmarkPILDecodeResizeCrop (t_PIL: PIL 9.4's decode + resize 256 + crop 224 per image, one core)
# and BenchmarkBareORT1 (t_ORT: bare ONNX Runtime per image on one intra-op thread, same model and batch).
# Prints, per round and as the mean of the rounds, run img/s ÷ B (wall clock, the definition) and
# the same with CPU seconds (the run's whole process tree against PIL's and ORT's own CPU time),
# fairer on a shared machine; and the load average before and after. Each round also runs
# BenchmarkBareORTBesidePIL (bare ONNX Runtime on all cores, spinning off, while one PIL process
# per core decodes beside it) and prints B_shared = cores / (t_PIL' + t_ORT'), the same bound with
# the CPU each half costs when both share the cores, and run ÷ B_shared.
# Usage: bench/run.sh   (COUNT=5 for more rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
cores=$(nproc)
go test -c -o /tmp/vistudy-bench-run.test ./bench
echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(cd bench && for _ in $(seq "$count"); do
  /tmp/vistudy-bench-run.test -test.run '^$' -test.bench '^(BenchmarkRun|BenchmarkBareORT1|BenchmarkPILDecodeResizeCrop|BenchmarkBareORTBesidePIL)$' -test.benchtime 1x
done | tee >(cat >&2))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v cores="$cores" '
  function metric(unit,   i) { for (i = 1; i <= NF; i++) if ($i == unit) return $(i-1); return 0 }
  # go test prints the name of a benchmark and its figures on separate lines when it logs in between
  /^Benchmark/                        { name = $1 }
  /img\/s/ && name ~ /^BenchmarkRun-/ { rw = metric("img/s"); rc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkBareORT1-/ { ow = metric("img/s"); oc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkPILDecodeResizeCrop-/ { pw = metric("img/s"); pc = metric("img/cpu-s") }
  /img\/s/ && name ~ /^BenchmarkBareORTBesidePIL-/ { sho = metric("img/cpu-s"); shp = metric("pil-img/cpu-s") }
  rw > 0 && ow > 0 && pw > 0 && sho > 0 {
    n++
    bw = cores / (1/pw + 1/ow)
    wall = rw / bw; cpu = rc * (1/pc + 1/oc)
    bs = cores / (1/shp + 1/sho)
    printf "round %d: run %.1f img/s; t_PIL %.2f ms, t_ORT %.2f ms, B %.1f img/s; run/B %.3f (wall) | CPU: run %.1f img/cpu-s, t_PIL+t_ORT %.2f ms, ratio %.3f | sharing the cores: t_PIL %.2f ms, t_ORT %.2f ms, B_shared %.1f img/s, run/B_shared %.3f\n", n, rw, 1000/pw, 1000/ow, bw, wall, rc, 1000/pc + 1000/oc, cpu, 1000/shp, 1000/sho, bs, rw/bs
    sw += wall; sc += cpu; srw += rw; sbw += bw; sbs += bs; ss += rw/bs
    rw = ow = pw = sho = 0
  }
  END {
    if (n == 0) { print "benchmarks skipped (is ../shared/data present, and python3-pil?)"; exit 0 }
    printf "mean of %d rounds: run %.1f img/s, B %.1f img/s, run/B %.3f (wall), %.3f (CPU); B_shared %.1f img/s, run/B_shared %.3f\n", n, srw/n, sbw/n, sw/n, sc/n, sbs/n, ss/n
  }' <<<"$out"
