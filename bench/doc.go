// Package bench holds vistudy's throughput benchmarks: `vistudy run` end to end against a bare
// ONNX Runtime loop over the same preprocessed tensors (bench/run.sh prints the ratio), and the load
// stage's decode + resize + crop against PIL's on one core (bench/decode.sh). See README.md for figures.
package bench
