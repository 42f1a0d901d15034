// Command vistudy runs studies of image classifiers written in YAML: load → perturb → infer →
// measure → aggregate, with attacks, metrics and runtimes as plugins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/pipeline"
	_ "github.com/vistudy/vistudy/stages/builtin" // every built-in stage kind
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2   // the study or the command line is wrong
	exitSignal  = 130 // interrupted (Ctrl-C), as shells report SIGINT
)

// usageError marks errors in what the user asked for (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(execute(os.Args[1:]))
}

// execute runs the CLI with args and returns the exit code.
func execute(args []string) int {
	v := viper.New()
	root := newRootCmd(v)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if ps, ok := pipeline.AsProblems(err); ok {
		fmt.Fprintf(os.Stderr, "%s\n%d problem(s) in the study\n", ps.Error(), len(ps))
		return exitInvalid
	}
	fmt.Fprintln(os.Stderr, "vistudy:", err)
	if errors.Is(err, context.Canceled) {
		return exitSignal
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitInvalid
	}
	return exitFailed
}

func newRootCmd(v *viper.Viper) *cobra.Command {
	root := &cobra.Command{
		Use:           "vistudy",
		Short:         "Run studies of what image classifiers learn, written as YAML",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return initConfig(v, cmd)
		},
	}
	root.PersistentFlags().String("plugins", "", "extra folders of plugin binaries (colon separated; env VISTUDY_PLUGINS)")
	root.PersistentFlags().String("config", "", "vistudy configuration file (default $XDG_CONFIG_HOME/vistudy/config.yaml)")
	root.PersistentFlags().String("onnxruntime-lib", "", "ONNX Runtime shared library (env ONNXRUNTIME_LIB; config onnxruntime.library)")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newRunCmd(v), newValidateCmd(v), newPlanCmd(v), newPluginsCmd(v), newVersionCmd(),
		newMergeCmd(v))
	for _, c := range extraCommands {
		root.AddCommand(c(v))
	}
	return root
}

// extraCommands are added by other files of this command (one per analysis family).
var extraCommands []func(*viper.Viper) *cobra.Command

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the vistudy version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "vistudy %s (plugin protocol %d)\n", version, pluginProtocol)
			return nil
		},
	}
}
