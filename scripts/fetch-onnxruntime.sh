#!/usr/bin/env bash
# Installs the ONNX Runtime shared library (CPU build) from the npm package onnxruntime-node,
# whose bin/napi-v6/linux/x64/libonnxruntime.so.1 matches github.com/yalue/onnxruntime_go v1.27.0.
# Usage: scripts/fetch-onnxruntime.sh DEST_DIR   (writes DEST_DIR/libonnxruntime.so.1)
set -euo pipefail
version=1.24.3
sha256=92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682
dest=${1:?usage: $0 DEST_DIR}
lib="$dest/libonnxruntime.so.1"
if [ -f "$lib" ] && echo "$sha256  $lib" | sha256sum -c --quiet - 2>/dev/null; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-onnxruntime: npm is needed (apt-get install nodejs npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$version.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
mkdir -p "$dest"
mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.part"
echo "$sha256  $lib.part" | sha256sum -c --quiet - || { rm -f "$lib.part"; echo "fetch-onnxruntime: checksum mismatch for onnxruntime-node@$version" >&2; exit 1; }
mv "$lib.part" "$lib"
echo "installed ONNX Runtime $version at $lib"
