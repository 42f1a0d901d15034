// Package bench holds vistudy's benchmarks, each script printing its ratio from one run:
// bench/decode.sh (the load stage's decode + resize + crop against PIL's on one core),
// bench/run.sh (`vistudy run` against the serial-sum bound cores/(t_PIL + t_ORT)),
// bench/hop.sh (the runtime plugin hop of a 32-image batch against its inference) and
// bench/rss.sh (peak memory at 10× the dataset against 1×). See README.md for figures.
package bench
