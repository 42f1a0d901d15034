package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/host"
)

// pluginProtocol is the plugin protocol version this build speaks.
const pluginProtocol = arrowio.SchemaVersion

// envPrefix prefixes every environment variable vistudy reads for settings and study keys.
const envPrefix = "VISTUDY"

// initConfig reads the configuration file, environment and flags into v.
func initConfig(v *viper.Viper, cmd *cobra.Command) error {
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	if f := v.GetString("config"); f != "" {
		v.SetConfigFile(f)
	} else {
		dir, err := os.UserConfigDir()
		if err == nil {
			v.AddConfigPath(filepath.Join(dir, "vistudy"))
		}
		v.SetConfigName("config")
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		var nf viper.ConfigFileNotFoundError
		if !errors.As(err, &nf) && v.GetString("config") != "" {
			return usageError{fmt.Errorf("config %s: %w", v.GetString("config"), err)}
		}
	}
	// The runtime plugin finds the library through ONNXRUNTIME_LIB, which plugin processes inherit.
	lib := v.GetString("onnxruntime-lib")
	if lib == "" {
		lib = v.GetString("onnxruntime.library")
	}
	if lib != "" {
		os.Setenv("ONNXRUNTIME_LIB", lib)
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(v.GetString("log-level"))); err != nil {
		return usageError{fmt.Errorf("--log-level %q: %w", v.GetString("log-level"), err)}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	return nil
}

// studyFlags are the flags of every command that reads a study.
func studyFlags(cmd *cobra.Command) {
	cmd.Flags().StringArray("set", nil, "override a study key: --set models.resnet.path=/x.onnx (repeatable; also VISTUDY_<KEY> with dots as underscores)")
	cmd.Flags().String("output", "", "run directory (overrides the study's output)")
	cmd.Flags().String("seed", "", "seed (overrides the study's seed)")
}

// studyPath is the study file named on the command line, or ./pipeline.yaml.
func studyPath(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "pipeline.yaml"
}

// overrides collects study overrides: environment variables VISTUDY_<KEY>, then --set, then
// the dedicated flags (later ones win).
func overrides(cmd *cobra.Command, path string) ([]pipeline.Override, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("read study: %w", err)}
	}
	keys, err := pipeline.LeafKeys(data)
	if err != nil {
		keys = nil // the parser reports the YAML error with its line
	}
	var out []pipeline.Override
	known := map[string]bool{}
	for _, k := range keys {
		env := envName(k)
		known[env] = true
		if val, ok := os.LookupEnv(env); ok {
			out = append(out, pipeline.Override{Key: k, Value: val, Source: "environment " + env})
		}
	}
	warnUnknownEnv(cmd, known)
	sets, _ := cmd.Flags().GetStringArray("set")
	for _, s := range sets {
		k, val, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--set %q: want key=value", s)}
		}
		out = append(out, pipeline.Override{Key: k, Value: val, Source: "flag --set " + s})
	}
	for _, f := range []string{"output", "seed"} {
		if val, _ := cmd.Flags().GetString(f); val != "" {
			out = append(out, pipeline.Override{Key: f, Value: val, Source: "flag --" + f})
		}
	}
	return out, nil
}

// envName is the environment variable of a dotted study key or a flag: VISTUDY_EXECUTION_BATCH_SIZE.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// otherEnv are VISTUDY_ variables read elsewhere: by the plugin host, the tests and the scripts.
var otherEnv = map[string]bool{"VISTUDY_PLUGIN_TIMEOUT": true, "VISTUDY_PLUGIN_BINARY": true,
	"VISTUDY_BIN": true, "VISTUDY_UPDATE_DOCS": true}

// warnUnknownEnv warns about VISTUDY_ variables that set no study key, flag or setting (a typo
// would otherwise be ignored without a word).
func warnUnknownEnv(cmd *cobra.Command, known map[string]bool) {
	flags := func(fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
	}
	flags(cmd.Flags())
	flags(cmd.InheritedFlags())
	known[envName("onnxruntime.library")] = true
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && !known[name] && !otherEnv[name] {
			slog.Warn("environment variable "+name+" sets nothing: it names no key of the study and no setting", "hint", "VISTUDY_<KEY> with dots as underscores, e.g. VISTUDY_EXECUTION_BATCH_SIZE")
		}
	}
}

// pluginDirs lists where plugin binaries are looked for: the --plugins/VISTUDY_PLUGINS folders,
// the study's plugins.dirs, and the folder of the vistudy executable (bin/ after `make build`).
func pluginDirs(v *viper.Viper, s *pipeline.Study) []string {
	var dirs []string
	if p := v.GetString("plugins"); p != "" {
		dirs = append(dirs, filepath.SplitList(p)...)
	}
	if s != nil {
		dirs = append(dirs, s.Plugins.Dirs...)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dirs
}

// catalog discovers the plugins a study can use and applies its pins.
func catalog(ctx context.Context, v *viper.Viper, s *pipeline.Study) (*host.Catalog, error) {
	cat := host.NewCatalog()
	if err := cat.Discover(ctx, pluginDirs(v, s)); err != nil {
		return nil, err
	}
	if s == nil {
		return cat, nil
	}
	var probs pipeline.Problems
	for name, sum := range s.Plugins.Pins {
		// Pin hashes the binaries without running them; a mismatch is refused before anything runs.
		if err := cat.Pin(name, sum); err != nil {
			probs = append(probs, &pipeline.Problem{Pos: s.KeyPos("plugins"), Msg: err.Error()})
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return cat, nil
}

// prepared is a study that passed validation, with its plugins and plan.
type prepared struct {
	study     *pipeline.Study
	overrides []pipeline.Override
	catalog   *host.Catalog
	plan      *pipeline.Plan
}

// prepare loads, validates and plans the study named by args.
func prepare(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string) (*prepared, error) {
	path := studyPath(args)
	ovs, err := overrides(cmd, path)
	if err != nil {
		return nil, err
	}
	s, err := pipeline.LoadStudy(path, ovs)
	if err != nil {
		return nil, err
	}
	cat, err := catalog(ctx, v, s)
	if err != nil {
		return nil, err
	}
	if err := pipeline.Validate(s, cat); err != nil {
		return nil, err
	}
	plan, err := pipeline.NewPlan(s, cat)
	if err != nil {
		return nil, err
	}
	return &prepared{study: s, overrides: ovs, catalog: cat, plan: plan}, nil
}
