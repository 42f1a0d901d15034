// Package bench holds vistudy's throughput benchmarks: `vistudy run` end to end against a bare
// ONNX Runtime loop over the same preprocessed tensors (bench/run.sh prints the ratio).
package bench
