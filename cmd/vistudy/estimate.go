package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/scaleout"
)

// estimateFlags adds `plan --estimate` and the rates the estimate assumes.
func estimateFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	r := scaleout.DefaultRates
	f.Bool("estimate", false, "print the study's size instead of its DAG: units, bytes written, task count and task length")
	f.Int("tasks", 0, "with --estimate: the number of shard tasks (default: the fewest whose length stays within --task-length)")
	f.Duration("task-length", taskTarget, "with --estimate: the longest task the default task count allows")
	f.Float64("infer-rate", r.Infer, "with --estimate: images per second through one model in one task")
	f.Float64("perturb-rate", r.Perturb, "with --estimate: perturbed images per second in one task")
	f.Float64("decode-rate", r.Decode, "with --estimate: decoded images per second in one task")
	f.Duration("model-load", r.ModelLoad, "with --estimate: time to start a runtime and load one model")
}

// writeEstimate prints the estimate of a planned study (`plan --estimate`).
func writeEstimate(cmd *cobra.Command, plan *pipeline.Plan) error {
	f := cmd.Flags()
	r := scaleout.DefaultRates
	r.Infer, _ = f.GetFloat64("infer-rate")
	r.Perturb, _ = f.GetFloat64("perturb-rate")
	r.Decode, _ = f.GetFloat64("decode-rate")
	r.ModelLoad, _ = f.GetDuration("model-load")
	if r.Infer <= 0 || r.Perturb <= 0 || r.Decode <= 0 {
		return usageError{fmt.Errorf("--infer-rate, --perturb-rate and --decode-rate must be positive")}
	}
	tasks, _ := f.GetInt("tasks")
	target, _ := f.GetDuration("task-length")
	if target <= 0 {
		target = time.Hour
	}
	w, err := scaleout.WorkloadOf(plan)
	if err != nil {
		return err
	}
	return scaleout.EstimateWorkload(w, r, tasks, target).Write(cmd.OutOrStdout(), r)
}
