package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/stages/load/synth"
)

func init() { extraCommands = append(extraCommands, newStimuliCmd) }

func newStimuliCmd(*viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "stimuli", Short: "Generate stimuli"}
	synthCmd := &cobra.Command{
		Use:   "synth --out DIR",
		Short: "Write synthetic cue-conflict stimuli as PNG in the Geirhos layout <shape>/<shape><i>-<texture><j>.png",
		Long: "Writes the images the dataset kind synthetic-cue-conflict renders for the same settings:\n" +
			"the same set, classes, size, per-pair count and seed give byte-identical files.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			setName, _ := cmd.Flags().GetString("set")
			classes, _ := cmd.Flags().GetStringSlice("classes")
			size, _ := cmd.Flags().GetInt("size")
			perPair, _ := cmd.Flags().GetInt("per-pair")
			seed, _ := cmd.Flags().GetUint64("seed")
			set, err := synth.ParseSetKind(setName)
			if err != nil {
				return usageError{err}
			}
			cfg := synth.Config{Classes: classes, Size: size, Seed: seed, PerPair: perPair, Set: set}
			if err := synth.WriteDir(out, cfg); err != nil {
				return err
			}
			g, _ := synth.New(cfg)
			fmt.Fprintf(cmd.OutOrStdout(), "%d %s images of %s in %s\n", len(g.Items()), set, strings.Join(g.Classes(), ", "), out)
			return nil
		},
	}
	synthCmd.Flags().String("out", "", "output folder (required)")
	synthCmd.Flags().String("set", "conflict", "conflict, aligned, stylised, shape-only or texture-only")
	synthCmd.Flags().StringSlice("classes", nil, "class names in label order (default: the first 8 of the catalogue)")
	synthCmd.Flags().Int("size", synth.DefaultSize, "image side in pixels")
	synthCmd.Flags().Int("per-pair", synth.DefaultPerPair, "images per (shape, texture) pair, or per class for the -only sets")
	synthCmd.Flags().Uint64("seed", 1, "seed")
	synthCmd.MarkFlagRequired("out")
	cmd.AddCommand(synthCmd)
	return cmd
}
