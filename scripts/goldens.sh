#!/usr/bin/env bash
# Golden results: runs the default study and every example with bin/vistudy and compares each
# results.parquet byte for byte with testdata/goldens/<decoder>/<study>.results.parquet (`check`,
# the default), or writes them (`make`). <decoder> is libjpeg (the default build: JPEGs decoded by
# libjpeg-turbo, as PIL does) or nolibjpeg (a build with -tags nolibjpeg: Go's image/jpeg).
# The nolibjpeg goldens were made at commit 41ee80a, the commit before stage kinds became registered
# components (issue 8), and the refactor reproduces them byte for byte; the default study's was
# remade when its corruption and attack stages were added (the other stages' rows unchanged).
# A change that moves a number must say why and remake them. Examples whose data is absent
# (../shared/data) are skipped with a message.
#   scripts/goldens.sh [check|make] [libjpeg|nolibjpeg]
set -euo pipefail
mode=${1:-check}
decoder=${2:-libjpeg}
root="$(cd "$(dirname "$0")/.." && pwd)"
bin=${VISTUDY_BIN:-$root/bin/vistudy}
golden="$root/testdata/goldens/$decoder"
export ONNXRUNTIME_LIB=${ONNXRUNTIME_LIB:-$root/.deps/onnxruntime/libonnxruntime.so.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$golden"
fail=0
for study in "$root/pipeline.yaml" "$root"/examples/*.yaml; do
  name=$(basename "$study" .yaml)
  if grep -q 'shared/data' "$study" && [ ! -d "$root/../shared/data" ]; then
    echo "skip $name: ../shared/data is absent"; continue
  fi
  if ! "$bin" run "$study" --output "$work/$name" >"$work/$name.log" 2>&1; then
    echo "FAIL $name: vistudy run failed:"; tail -20 "$work/$name.log"; fail=1; continue
  fi
  got="$work/$name/results.parquet"
  want="$golden/$name.results.parquet"
  if [ "$mode" = make ]; then
    cp "$got" "$want"; echo "made $name"
  elif cmp -s "$got" "$want"; then
    echo "ok   $name"
  else
    echo "FAIL $name: results.parquet differs from $want"; fail=1
  fi
done
exit $fail
