package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/pipeline/export"
)

func init() { extraCommands = append(extraCommands, newResultsCmd, newSummaryCmd) }

// runFile finds file in the finished run directory dir.
func runFile(dir, file string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", usageError{fmt.Errorf("%s does not exist", dir)}
	}
	if !st.IsDir() {
		return "", usageError{fmt.Errorf("%s is not a run directory", dir)}
	}
	p := filepath.Join(dir, file)
	if _, err := os.Stat(p); err != nil {
		return "", usageError{fmt.Errorf("%s is not a finished run directory: it has no %s (run `vistudy merge` first if the run was sharded, or `vistudy merge` again if it was finished by an older vistudy)", dir, file)}
	}
	return p, nil
}

// checkFormat rejects a format outside allowed.
func checkFormat(format string, allowed []string) error {
	if !slices.Contains(allowed, format) {
		return usageError{fmt.Errorf("--format %q: want one of %s", format, strings.Join(allowed, ", "))}
	}
	return nil
}

func newResultsCmd(*viper.Viper) *cobra.Command {
	var (
		format string
		filter export.Filter
	)
	cmd := &cobra.Command{
		Use:   "results RUN_DIR",
		Short: "Print a run's tidy results (results.parquet) as a table, CSV, TSV, JSON, Markdown or Parquet",
		Long: "Print a run's tidy results: model, stage, metric, group, value, n, the metric's unit, and one typed\n" +
			"column per group key. --stage, --model and --metric keep the rows matching a glob (repeatable or\n" +
			"comma-separated). The text table lists the skipped inputs after it; --format parquet writes\n" +
			"the filtered table as Parquet to standard output.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, append(slices.Clone(export.Formats), "parquet")); err != nil {
				return err
			}
			if err := filter.Check(); err != nil {
				return usageError{err}
			}
			path, err := runFile(args[0], pipeline.ResultsFile)
			if err != nil {
				return err
			}
			rows, err := pqfile.ReadResults(path, memory.DefaultAllocator)
			if err != nil {
				return err
			}
			rows = filter.Apply(rows)
			out := cmd.OutOrStdout()
			if format == "parquet" {
				return writeResultsParquet(out, rows)
			}
			cat, _ := pqfile.ReadMetrics(filepath.Join(args[0], pipeline.MetricsFile), memory.DefaultAllocator) // older runs have none
			t, err := export.ResultsTable(rows, export.NewCatalog(cat))
			if err != nil {
				return err
			}
			if err := export.Write(out, format, t); err != nil {
				return err
			}
			if format != "table" {
				return nil
			}
			errs, err := pqfile.ReadErrors(filepath.Join(args[0], pipeline.ErrorsFile), memory.DefaultAllocator)
			if err == nil && len(errs) > 0 {
				fmt.Fprintf(out, "\n%d skipped input(s) (%s):\n", len(errs), filepath.Join(args[0], pipeline.ErrorsFile))
				for _, e := range errs {
					who := e.Stage
					if e.Model != "" {
						who += ", " + e.Model
					}
					fmt.Fprintf(out, "  %s [%s]: %s\n", e.SampleID, who, e.Reason)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, tsv, json, markdown or parquet")
	cmd.Flags().StringSliceVar(&filter.Stages, "stage", nil, "keep these stages (globs)")
	cmd.Flags().StringSliceVar(&filter.Models, "model", nil, "keep these models (globs)")
	cmd.Flags().StringSliceVar(&filter.Metrics, "metric", nil, "keep these metrics (globs)")
	return cmd
}

// writeResultsParquet writes rows as a results table (typed columns included) to w.
func writeResultsParquet(w io.Writer, rows []arrowio.Result) error {
	tmp, err := os.MkdirTemp("", "vistudy-results-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "results.parquet")
	if err := pqfile.WriteResults(p, rows, memory.DefaultAllocator); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func newSummaryCmd(*viper.Viper) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "summary RUN_DIR",
		Short: "Print a run's leaderboard: one row per model, one column per headline number, with units",
		Long: "Print the leaderboard of a finished run (summary.json): one row per model, one column per\n" +
			"headline metric of each stage (the metric catalogue's headline flag: metrics.parquet) at its\n" +
			"overall value, or at each point of a sweep of at most 6 points when it has no overall value.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, export.Formats); err != nil {
				return err
			}
			path, err := runFile(args[0], pipeline.SummaryFile)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var s pipeline.Summary
			if err := json.Unmarshal(b, &s); err != nil || s.Board == nil {
				return fmt.Errorf("%s is damaged: %v", path, err)
			}
			if format == "json" {
				_, err := cmd.OutOrStdout().Write(b)
				return err
			}
			return export.Write(cmd.OutOrStdout(), format, s.Board.Table())
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, tsv, json or markdown")
	return cmd
}
