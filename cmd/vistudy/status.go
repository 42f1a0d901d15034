package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/scaleout"
	"github.com/vistudy/vistudy/scaleout/slurm"
)

func newStatusCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status RUN_DIR",
		Short: "Show a sharded run's units: done, running, failed, per shard (with its Slurm task and log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			runDir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			rec, err := slurm.ReadRecord(runDir)
			if errors.Is(err, os.ErrNotExist) {
				shards, _ := cmd.Flags().GetInt("shards")
				return plainStatus(cmd.Context(), v, cmd.OutOrStdout(), runDir, shards)
			}
			if err != nil {
				return err
			}
			st, queue, err := slurmStatus(cmd.Context(), v, rec)
			if err != nil {
				return err
			}
			return writeSlurmStatus(cmd.OutOrStdout(), rec, st, queue)
		},
	}
	cmd.Flags().Int("shards", 1, "shards to count units by, for a run directory not submitted with --slurm")
	return cmd
}

// slurmStatus is where a Slurm submission's shards stand.
func slurmStatus(ctx context.Context, v *viper.Viper, rec *slurm.Record) ([]slurm.ShardStatus, []slurm.TaskState, error) {
	var counts []scaleout.ShardCount
	plan, err := planOf(ctx, v, rec.Job.Study, overridesOf(rec.Job.Sets))
	if err == nil {
		var units []scaleout.Unit
		if units, err = scaleout.ExpectedUnits(plan); err == nil {
			counts, err = scaleout.Census(rec.Job.RunDir, units, rec.Job.Shards)
		}
	}
	if err != nil {
		slog.Warn("units cannot be counted; shard states come from the queue and the tasks' done markers", "err", err)
		counts = nil
	}
	var jobs []string
	for _, s := range rec.Submissions {
		jobs = append(jobs, s.Array, s.Merge)
	}
	var queue []slurm.TaskState
	if slurm.Available() {
		if queue, err = slurm.Queue(ctx, jobs...); err != nil {
			return nil, nil, err
		}
	}
	return slurm.Status(rec, counts, queue), queue, nil
}

func writeSlurmStatus(out io.Writer, rec *slurm.Record, st []slurm.ShardStatus, queue []slurm.TaskState) error {
	t := slurm.Totals(st)
	expected := 0
	for _, s := range st {
		expected += s.Expected
	}
	fmt.Fprintf(out, "run directory  %s\nstudy          %s (%d shards)\n", rec.Job.RunDir, rec.Job.Study, rec.Job.Shards)
	fmt.Fprintf(out, "units          %d: %d done, %d running, %d pending, %d failed, %d not submitted\n", expected,
		t[slurm.StateDone], t[slurm.StateRunning], t[slurm.StatePending], t[slurm.StateFailed], t[slurm.StateNotSubmitted])
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SHARD\tUNITS\tDONE\tSTATE\tJOB\tQUEUE\tLOG")
	for _, s := range st {
		fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Shard, s.Expected, s.Done, s.State, dash(s.Job), dash(s.Queue), s.Log)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if last := rec.Last(); last != nil {
		state := "not in the queue"
		for _, q := range queue {
			if q.Job == last.Merge {
				state = q.State
			}
		}
		fmt.Fprintf(out, "merge          job %s: %s\n", last.Merge, state)
	}
	results := filepath.Join(rec.Job.RunDir, pipeline.ResultsFile)
	if _, err := os.Stat(results); err == nil {
		fmt.Fprintf(out, "results        %s\n", results)
	} else {
		fmt.Fprintf(out, "results        not merged yet\n")
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runInfo is the part of a run directory's run.json that names its study.
type runInfo struct {
	Study     string              `json:"study"`
	Overrides []pipeline.Override `json:"overrides"`
}

// plainStatus counts the units of a run directory by shard, with no scheduler to ask.
func plainStatus(ctx context.Context, v *viper.Viper, out io.Writer, runDir string, shards int) error {
	b, err := os.ReadFile(filepath.Join(runDir, pipeline.RunFile))
	if err != nil {
		return usageError{fmt.Errorf("status: %s is not a run directory: %w", runDir, err)}
	}
	var info runInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return fmt.Errorf("status: %s: %w", pipeline.RunFile, err)
	}
	plan, err := planOf(ctx, v, info.Study, info.Overrides)
	if err != nil {
		return err
	}
	units, err := scaleout.ExpectedUnits(plan)
	if err != nil {
		return err
	}
	counts, err := scaleout.Census(runDir, units, shards)
	if err != nil {
		return err
	}
	done := 0
	for _, c := range counts {
		done += c.Done
	}
	fmt.Fprintf(out, "run directory  %s\nstudy          %s\nunits          %d: %d done, %d missing\n", runDir, info.Study, len(units), done, len(units)-done)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SHARD\tUNITS\tDONE\tMISSING")
	for _, c := range counts {
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\n", c.Shard, c.Expected, c.Done, c.Missing())
	}
	return w.Flush()
}
