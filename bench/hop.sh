#!/usr/bin/env bash
# The plugin hop of one 32-image batch (host → runtime plugin → host, minus the runtime's own time
# for the batch, which the plugin reports) ÷ that batch's inference time, in the same alternating
# rounds: the batch in the shared arena (as a run's batches: no copy), in ordinary memory (one copy
# into shared memory), and as Arrow IPC over gRPC (VISTUDY_SHM=off). SqueezeNet 1.1 fp16,
# intra-op threads = cores. Usage: bench/hop.sh   (ROUNDS=20 for more calls)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench '^BenchmarkHop$' -benchtime "${ROUNDS:-10}x" ./bench | tee >(cat >&2) | awk '
  function metric(unit,   i) { for (i = 1; i <= NF; i++) if ($i == unit) return $(i-1); return 0 }
  /hop-ms-shm/ {
    printf "inference %.1f ms per batch; hop: arena (no copy) %.2f ms (ratio %.4f), shared memory with a copy %.2f ms (ratio %.4f), Arrow IPC over gRPC %.2f ms (ratio %.4f)\n",
      metric("infer-ms"), metric("hop-ms-arena"), metric("hop/infer-arena"), metric("hop-ms-shm"), metric("hop/infer-shm"), metric("hop-ms-ipc"), metric("hop/infer-ipc")
  }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
