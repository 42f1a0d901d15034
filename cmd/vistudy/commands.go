package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/pipeline"
)

// signalContext is cancelled by the first Ctrl-C (finished units are kept); a second one exits.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			slog.Warn("interrupted: stopping after finished units are written (Ctrl-C again to quit now)")
			cancel()
		case <-ctx.Done():
			return
		}
		<-ch
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func newRunCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [study.yaml]",
		Short: "Run a study (default ./pipeline.yaml); a re-run resumes where the last one stopped",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			p, err := prepare(ctx, v, cmd, args)
			if err != nil {
				return err
			}
			shard, err := pipeline.ParseShard(v.GetString("shard"))
			if err != nil {
				return usageError{fmt.Errorf("--%w", err)}
			}
			quiet, _ := cmd.Flags().GetBool("quiet")
			noProgress, _ := cmd.Flags().GetBool("no-progress")
			d := newDisplay(os.Stderr, noProgress || quiet)
			restore, err := d.takeLogs(v.GetString("log-level"), quiet)
			if err != nil {
				return err
			}
			err = pipeline.Run(ctx, p.plan, pipeline.Options{
				Catalog: p.catalog, Shard: shard, Overrides: p.overrides, Version: version, Redo: v.GetBool("redo"),
				Progress: d, Log: slog.Default(),
			})
			restore()
			closingSummary(os.Stderr, d, p.study.Output, shard, err)
			if err != nil {
				return err
			}
			if shard.Whole() {
				fmt.Fprintf(cmd.OutOrStdout(), "results: %s\n", p.study.Output+"/"+pipeline.ResultsFile)
			}
			return nil
		},
	}
	studyFlags(cmd)
	cmd.Flags().String("shard", "", "run only shard i of N (i/N); combine the shards with vistudy merge")
	cmd.Flags().Bool("no-progress", false, "draw no progress bars and log no progress lines (other logs and the closing summary stay)")
	cmd.Flags().BoolP("quiet", "q", false, "print only warnings, errors and the closing summary")
	cmd.Flags().Bool("redo", false, "when the run directory was made from other inputs (a changed model file, dataset or plugin), redo what the change affects instead of refusing")
	return cmd
}

func newValidateCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [study.yaml]",
		Short: "Check a study without running it: keys, references, cycles, plugins, parameters, paths",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := prepare(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d models, %d datasets, %d stages, %d instances)\n",
				p.study.File, len(p.study.Models), len(p.study.Datasets), len(p.study.Stages), len(p.plan.Instances))
			return nil
		},
	}
	studyFlags(cmd)
	return cmd
}

func newPlanCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan [study.yaml]",
		Short: "Print the expanded DAG of a study (--dot for Graphviz)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := prepare(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			if dot, _ := cmd.Flags().GetBool("dot"); dot {
				return p.plan.WriteDot(cmd.OutOrStdout())
			}
			if est, _ := cmd.Flags().GetBool("estimate"); est {
				return writeEstimate(cmd, p.plan)
			}
			return p.plan.WriteText(cmd.OutOrStdout())
		},
	}
	studyFlags(cmd)
	cmd.Flags().Bool("dot", false, "write Graphviz dot instead of text")
	estimateFlags(cmd)
	return cmd
}

func newPluginsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "Inspect installed plugins"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the plugins found, with kind, version, parameters and sha256",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog(cmd.Context(), v, nil)
			if err != nil {
				return err
			}
			if err := cat.Describe(cmd.Context()); err != nil { // discovery runs nothing; listing runs every plugin
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tNAME\tVERSION\tPARAMETERS\tPATH\tSHA256")
			for _, e := range cat.Entries() {
				ps := ""
				for i, p := range e.Info.Params {
					if i > 0 {
						ps += ","
					}
					ps += p.Name + ":" + string(p.Type)
				}
				if ps == "" {
					ps = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, e.Info.Name, e.Info.Version, ps, e.Path, e.SHA256[:12])
			}
			return w.Flush()
		},
	})
	return cmd
}

func newMergeCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "merge [study.yaml]",
		Short: "Combine the units of sharded runs into results.parquet, errors.parquet and manifest.json",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := prepare(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			if _, err := pipeline.OpenRunDir(p.study, p.overrides); err != nil {
				return err
			}
			if err := pipeline.Finalize(cmd.Context(), p.plan, pipeline.Options{Catalog: p.catalog, Overrides: p.overrides, Version: version}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "results: %s\n", p.study.Output+"/"+pipeline.ResultsFile)
			return nil
		},
	}
	studyFlags(cmd)
	return cmd
}
