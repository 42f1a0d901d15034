package pipeline_test

import (
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/params"
	_ "github.com/vistudy/vistudy/stages/builtin"

	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeStudy(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseStudyPositions(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // substrings of the problems, each with its line:col
	}{
		{"unknown top-level key", "name: x\nmodles: {}\n", []string{`:2:1: unknown key "modles" in the study`}},
		{"unknown model key", "models:\n  a:\n    path: a.onnx\n    inptu: {}\n", []string{`:4:5: unknown key "inptu" in model "a"`}},
		{"unknown input key", "models:\n  a:\n    input: {size: 224, mena: [1]}\n", []string{`:3:24: unknown key "mena" in model "a" input`}},
		{"wrong type", "seed: abc\n", []string{`:1:7: seed must be a non-negative integer, found "abc"`}},
		{"two kinds in a stage", "stages:\n  - id: a\n    load: {dataset: d}\n    infer: {input: a}\n", []string{`:4:5: stage "a" has two kinds`}},
		{"stage without id", "stages:\n  - load: {dataset: d}\n", []string{`:2:5: stage 1 has no id`}},
		{"unknown stage key", "stages:\n  - id: a\n    measure: {input: b, metrc: accuracy}\n", []string{`:3:25: unknown key "metrc" in stage "a" measure`}},
		{"not yaml", "a: [1, 2\n", []string{"not valid YAML"}},
		{"unset env var", "output: ${VISTUDY_TEST_SURELY_UNSET}/x\n", []string{"environment variable VISTUDY_TEST_SURELY_UNSET is not set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeStudy(t, c.yaml)
			_, err := pipeline.LoadStudy(p, nil)
			ps, ok := pipeline.AsProblems(err)
			if !ok {
				t.Fatalf("want problems, got %v", err)
			}
			got := ps.Error()
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems\n%s\ndo not contain %q", got, w)
				}
			}
			if !strings.Contains(got, p) {
				t.Errorf("problems do not name the file %s:\n%s", p, got)
			}
		})
	}
}

func TestParseStudyValues(t *testing.T) {
	t.Setenv("VISTUDY_TEST_DATA", "/data/here")
	p := writeStudy(t, `
name: demo
seed: 7
models:
  squeezenet:
    path: models/sq.onnx
    input: {size: 224, resize: 256, channels: bgr, scale: 255, mean: [103.939, 116.779, 123.68]}
    output: probabilities
    runtime: {threads: 2}
  other:
    path: /abs/o.onnx
    input: {size: [32, 48]}
runtime: {providers: [cuda, cpu], fallback: true}
datasets:
  sample: {kind: imagefolder, path: "${VISTUDY_TEST_DATA}/imgs", limit: 10, extra: 3}
stages:
  - id: images
    load: {dataset: sample}
  - id: sol
    perturb: {input: images, attack: solarize, params: {threshold: [0.25, 0.5]}, sweep: [threshold]}
    save: true
`)
	s, err := pipeline.LoadStudy(p, []pipeline.Override{{Key: "seed", Value: "9", Source: "flag --seed"}, {Key: "models.other.output", Value: "probabilities", Source: "env"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "demo" || s.Seed != 9 {
		t.Errorf("name/seed = %q/%d, want demo/9 (seed overridden)", s.Name, s.Seed)
	}
	if want := filepath.Join(filepath.Dir(p), "runs", "demo"); s.Output != want {
		t.Errorf("default output %s, want %s", s.Output, want)
	}
	sq, o := s.Models[0], s.Models[1]
	if sq.Path != filepath.Join(filepath.Dir(p), "models", "sq.onnx") || o.Path != "/abs/o.onnx" {
		t.Errorf("model paths %s, %s", sq.Path, o.Path)
	}
	if sq.Input.Height != 224 || sq.Input.Width != 224 || sq.Input.Resize != 256 || sq.Input.Channels != "BGR" || sq.Input.Scale != 255 || len(sq.Input.Mean) != 3 {
		t.Errorf("squeezenet input %+v", sq.Input)
	}
	if o.Input.Height != 32 || o.Input.Width != 48 || o.Input.Scale != 1 || o.Input.Channels != "RGB" {
		t.Errorf("other input %+v", o.Input)
	}
	if o.Output != "probabilities" {
		t.Errorf("override of models.other.output not applied: %q", o.Output)
	}
	if sq.Runtime.Threads != 2 || !sq.Runtime.Fallback || strings.Join(sq.Runtime.Providers, ",") != "cuda,cpu" {
		t.Errorf("merged runtime %+v", sq.Runtime)
	}
	if o.Runtime.Threads != 0 || o.Runtime.Plugin != "onnxruntime" {
		t.Errorf("other runtime %+v", o.Runtime)
	}
	ds := s.Datasets[0]
	if ds.Path != "/data/here/imgs" || ds.Limit != 10 || ds.Params["extra"] != 3.0 {
		t.Errorf("dataset %+v", ds)
	}
	sol := s.Stages[1]
	if sol.Kind != "perturb" || sol.Plugin != "solarize" || sol.Input != "images" || len(sol.Sweep) != 1 || sol.Save == nil || !*sol.Save {
		t.Errorf("stage %+v", sol)
	}
	if pos := sol.ParamPos("threshold"); pos.Line != 20 {
		t.Errorf("threshold param at line %d, want 20", pos.Line)
	}
}

func TestOverrideSourceInProblems(t *testing.T) {
	p := writeStudy(t, "seed: 1\n")
	_, err := pipeline.LoadStudy(p, []pipeline.Override{{Key: "seed", Value: "minus", Source: "environment VISTUDY_SEED"}})
	if err == nil || !strings.Contains(err.Error(), "environment VISTUDY_SEED: seed must be") {
		t.Fatalf("want a problem naming the environment variable, got %v", err)
	}
}

func TestLeafKeys(t *testing.T) {
	keys, err := pipeline.LeafKeys([]byte("models:\n  a:\n    path: x\n    input: {size: 3}\nstages:\n  - id: s\n    load: {dataset: d}\n"))
	if err != nil {
		t.Fatal(err)
	}
	joined := "," + strings.Join(keys, ",") + ","
	for _, k := range []string{"seed", "models.a.path", "models.a.input.size", "stages.0.id", "stages.0.load.dataset", "execution.batch_size"} {
		if !strings.Contains(joined, ","+k+",") {
			t.Errorf("pipeline.LeafKeys lacks %s: %v", k, keys)
		}
	}
}

// TestSweepGroups: a swept value naming a group of the parameter (a corruption's name: all)
// expands into the group's values; unswept, it is a problem that says to sweep.
func TestSweepGroups(t *testing.T) {
	specs := []params.Spec{{Name: "name", Type: params.String, Groups: map[string][]string{"all": {"fog", "snow", "frost"}}},
		{Name: "severity", Type: params.Int}}
	got := params.ExpandGroups(specs, "name", []any{"all", "zoom"})
	if len(got) != 4 || got[0] != "fog" || got[2] != "frost" || got[3] != "zoom" {
		t.Errorf("ExpandGroups = %v, want fog snow frost zoom", got)
	}
	if got := params.ExpandGroups(specs, "severity", []any{1.0}); len(got) != 1 {
		t.Errorf("a parameter without groups changed: %v", got)
	}
}

// TestModelStreams checks how many batches of a stage go to a model's runtime at once: the
// study's runtime.streams, else 1, and that the runtime is asked for them.
func TestModelStreams(t *testing.T) {
	for _, tc := range []struct {
		name string
		rt   pipeline.RuntimeConfig
		want int
	}{
		{"defaults", pipeline.RuntimeConfig{}, 1},
		{"set", pipeline.RuntimeConfig{Streams: 3}, 3},
		{"set with threads", pipeline.RuntimeConfig{Streams: 4, Threads: 2}, 4},
		{"threads set", pipeline.RuntimeConfig{Threads: 2}, 1},
	} {
		m := &pipeline.Model{Runtime: tc.rt}
		if got := m.Streams(); got != tc.want {
			t.Errorf("%s: %d streams, want %d", tc.name, got, tc.want)
		}
		if got := m.LoadSpec().Streams; got != tc.want {
			t.Errorf("%s: load spec asks for %d streams, want %d", tc.name, got, tc.want)
		}
	}
}
