package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
)

func init() { extraCommands = append(extraCommands, newResultsCmd) }

func newResultsCmd(*viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "results RUN_DIR",
		Short: "Print a run's tidy results table (results.parquet) and its skipped inputs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				path = filepath.Join(path, pipeline.ResultsFile)
				if _, err := os.Stat(path); err != nil {
					return usageError{fmt.Errorf("%s is not a finished run directory: it has no %s (run `vistudy merge` first if the run was sharded)", args[0], pipeline.ResultsFile)}
				}
			} else if err != nil {
				return usageError{fmt.Errorf("%s does not exist", args[0])}
			}
			rows, err := arrowio.ReadResults(path, memory.DefaultAllocator)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "MODEL\tSTAGE\tMETRIC\tGROUP\tVALUE\tN")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", r.Model, r.Stage, r.Metric, r.Group, strconv.FormatFloat(r.Value, 'g', 6, 64), r.N)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			errs, err := arrowio.ReadErrors(filepath.Join(filepath.Dir(path), pipeline.ErrorsFile), memory.DefaultAllocator)
			if err == nil && len(errs) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "\n%d skipped input(s):\n", len(errs))
				for _, e := range errs {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s [%s]: %s\n", e.Path, e.Stage, e.Reason)
				}
			}
			return nil
		},
	}
}
