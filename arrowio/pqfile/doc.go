// Package pqfile reads and writes vistudy's tables as Parquet files: per-sample parts, results,
// errors and the metric catalogue. It is apart from arrowio so that plugins, which exchange
// Arrow batches but write no files, do not link Parquet (it doubled their binaries, which every
// run hashes before launching them; bench/README.md).
package pqfile
