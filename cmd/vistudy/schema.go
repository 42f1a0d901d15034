package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/pipeline"
)

func init() { extraCommands = append(extraCommands, newSchemaCmd) }

// newSchemaCmd prints the key tables of the study file (docs/study.md holds the same text).
func newSchemaCmd(*viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print every key of the study file, stage kinds and dataset kinds included, as Markdown tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), pipeline.SchemaMarkdown())
			return err
		},
	}
}
