// Package interop checks that what vistudy writes reads as it is in other tools: its tests run a
// real study and query the run directory with DuckDB (hive-partitioned tables, results.parquet).
package interop
