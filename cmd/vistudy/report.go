package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/arrowio"
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
			studyFile := filepath.Join(dir, pipeline.StudyFile)
			data, err := os.ReadFile(studyFile)
			if err != nil {
				return usageError{fmt.Errorf("%s is not a run directory: %w", dir, err)}
			}
			s, err := pipeline.ParseStudy(data, studyFile, nil)
			if err != nil {
				return err
			}
			rows, err := arrowio.ReadResults(filepath.Join(dir, pipeline.ResultsFile), memory.DefaultAllocator)
			if err != nil {
				return fmt.Errorf("%w (run `vistudy merge` first if the run was sharded)", err)
			}
			out := filepath.Join(dir, "report")
			if err := report.Write(out, pipeline.StageInfos(s), rows); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(out, "index.html"))
			return nil
		},
	}
}
