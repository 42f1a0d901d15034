// Package pipeline turns a study file into a validated DAG of stage instances and runs it:
// streaming executor, deterministic work units, run directory, manifest, resume and shards.
package pipeline
