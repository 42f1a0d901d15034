package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/pipeline/report"
)

func init() { extraCommands = append(extraCommands, newReportCmd) }

func newReportCmd(*viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Write RUN_DIR/report/index.html and its figures from the run's results (a finished run already has them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			data, err := os.ReadFile(filepath.Join(dir, pipeline.ManifestName))
			if err != nil {
				return usageError{fmt.Errorf("%s is not a finished run directory (no %s): %w", dir, pipeline.ManifestName, err)}
			}
			var man pipeline.Manifest
			if err := json.Unmarshal(data, &man); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(dir, pipeline.ManifestName), err)
			}
			rows, err := pqfile.ReadResults(filepath.Join(dir, pipeline.ResultsFile), memory.DefaultAllocator)
			if err != nil {
				return fmt.Errorf("%w (run `vistudy merge` first if the run was sharded)", err)
			}
			out := filepath.Join(dir, "report")
			run, err := report.ReadRun(dir)
			if err != nil {
				return err
			}
			// The models' classes (chance lines) from the study file, when it is still there.
			if st, err := pipeline.LoadStudy(man.Study.File, man.Study.Overrides); err == nil {
				var specs []string
				for _, md := range st.Models {
					specs = append(specs, md.Labels)
				}
				run.Classes = report.SharedClasses(st.Dir, specs...)
			}
			if err := report.WriteRun(out, run, man.Stages, rows); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(out, "index.html"))
			return nil
		},
	}
}
