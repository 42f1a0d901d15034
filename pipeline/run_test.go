package pipeline_test

import (
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/sdk"
	_ "github.com/vistudy/vistudy/stages/builtin"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// study writes a study over the world with the given output folder and extra YAML.
func study(w *testenv.ColourWorld, t *testing.T, output string) string {
	t.Helper()
	body := fmt.Sprintf(`name: colours
seed: 3
output: %s
execution: {batch_size: 4, unit_size: 8, workers: 3}
models:
  colour:
    path: %s
    input: {size: 16, resize: 16}
    labels: %s
datasets:
  colours: {kind: imagefolder, path: %s}
stages:
  - id: images
    load: {dataset: colours}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1, 2, 3]}}
`, output, w.Model, w.Labels, w.Data)
	p := filepath.Join(w.Dir, "study-"+filepath.Base(output)+".yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pluginCatalog(t *testing.T) *host.Catalog {
	t.Helper()
	dir := testenv.Plugins(t, "runtimes/onnxruntime", "plugins/metrics/accuracy")
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	return cat
}

func plan(t *testing.T, path string, cat *host.Catalog) *pipeline.Plan {
	t.Helper()
	s, err := pipeline.LoadStudy(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Validate(s, cat); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.NewPlan(s, cat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func results(t *testing.T, dir string) []arrowio.Result {
	t.Helper()
	rows, err := pqfile.ReadResults(filepath.Join(dir, pipeline.ResultsFile), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestRunKnownAnswer(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	out := filepath.Join(w.Dir, "run")
	p := plan(t, study(w, t, out), cat)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	if err := pipeline.Run(context.Background(), p, pipeline.Options{Catalog: cat, Mem: mem}); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	got := map[string]arrowio.Result{}
	for _, r := range results(t, out) {
		got[r.Metric] = r
	}
	for metric, want := range map[string]float64{"top1": 48.0 / 52, "top2": 48.0 / 52, "top3": 1} {
		if r := got[metric]; r.Value != want || r.N != 52 || r.Model != "colour" || r.Stage != "acc" {
			t.Errorf("%s = %+v, want value %v over 52 samples", metric, r, want)
		}
	}
	errs, err := pqfile.ReadErrors(filepath.Join(out, pipeline.ErrorsFile), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 3 || errs[0].SampleID != "1green/missing.png" || errs[1].SampleID != "2blue/corrupt.jpg" || errs[2].SampleID != "3dark/truncated.png" ||
		!strings.HasSuffix(errs[0].Path, "/images/1green/missing.png") || !filepath.IsAbs(errs[0].Path) || errs[0].Dataset != "colours" || errs[0].Model != "" ||
		errs[0].Stage != "images" || !strings.Contains(errs[0].Reason, "no such file") || !strings.Contains(errs[1].Reason, "jpeg") {
		t.Errorf("errors.parquet = %+v, want the missing file, the corrupt JPEG and the truncated PNG", errs)
	}
	// The predictions table: 52 rows over 7 parts, each row carrying its stage, dataset and model.
	parts, _ := filepath.Glob(filepath.Join(out, "tables", "preds", "model-colour", "part-*.parquet"))
	if len(parts) != 7 {
		t.Fatalf("%d prediction parts, want 7 (55 samples in units of 8)", len(parts))
	}
	var rows int64
	for _, part := range parts {
		rec, err := pqfile.ReadParquet(part, mem)
		if err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
		models, _ := arrowio.StringColumn(rec, arrowio.ColModel)
		stages, _ := arrowio.StringColumn(rec, arrowio.ColStage)
		datasets, _ := arrowio.StringColumn(rec, arrowio.ColDataset)
		names, _ := arrowio.StringColumn(rec, arrowio.ColPredName)
		if len(models) == 0 || models[0] != "colour" || stages[0] != "preds" || datasets[0] != "colours" || len(names) != len(models) {
			t.Errorf("%s: model %v, stage %v, dataset %v, pred_name %v: want colour, preds, colours and a class name per row", part, models, stages, datasets, names)
		}
		if _, err := arrowio.TensorColumn(rec, arrowio.ColLogits); err != nil {
			t.Errorf("%s: %v", part, err)
		}
		rec.Release()
	}
	mem.AssertSize(t, 0)
	if rows != 52 {
		t.Errorf("%d prediction rows, want 52", rows)
	}
	var man pipeline.Manifest
	b, err := os.ReadFile(filepath.Join(out, pipeline.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Models) != 1 || len(man.Models[0].SHA256) != 64 || len(man.Plugins) != 2 || man.Study.Seed != 3 || man.Errors != 3 || man.Units["acc"] != 7 {
		t.Errorf("manifest %s", b)
	}
}

func TestShardsEqualWholeRun(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	whole := filepath.Join(w.Dir, "whole")
	if err := pipeline.Run(context.Background(), plan(t, study(w, t, whole), cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	sharded := filepath.Join(w.Dir, "sharded")
	p := plan(t, study(w, t, sharded), cat)
	for i := 0; i < 3; i++ {
		if err := pipeline.Run(context.Background(), p, pipeline.Options{Catalog: cat, Shard: pipeline.Shard{i, 3}}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(sharded, pipeline.ResultsFile)); err == nil {
			t.Fatalf("shard %d/3 wrote results before the merge", i)
		}
		if i == 1 {
			if err := pipeline.Finalize(context.Background(), p, pipeline.Options{Catalog: cat}); !errors.Is(err, pipeline.ErrIncomplete) {
				t.Fatalf("merge with a shard missing: %v, want the incomplete error", err)
			}
		}
	}
	if err := pipeline.Finalize(context.Background(), p, pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	a, b := results(t, whole), results(t, sharded)
	if !reflect.DeepEqual(a, b) || len(a) == 0 {
		t.Errorf("sharded results\n%+v\ndiffer from the whole run\n%+v", b, a)
	}
}

// TestCancelAndResume stops a run after its third committed unit, then resumes it: finished
// units are not redone and the results equal an uninterrupted run's.
func TestCancelAndResume(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	whole := filepath.Join(w.Dir, "whole")
	if err := pipeline.Run(context.Background(), plan(t, study(w, t, whole), cat), pipeline.Options{Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(w.Dir, "resumed")
	p := plan(t, study(w, t, out), cat)
	ctx, cancel := context.WithCancel(context.Background())
	commits := 0
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	err := pipeline.Run(ctx, p, pipeline.Options{Catalog: cat, Mem: mem, AfterCommit: func(in *pipeline.Instance, unit string) {
		if in.Stage.ID == "acc" {
			if commits++; commits == 3 {
				cancel()
			}
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	mem.AssertSize(t, 0)
	acc := p.Instances[2]
	before, _ := (&pipeline.RunDir{Root: out}).Units(acc)
	if len(before) < 3 || len(before) == 7 {
		t.Fatalf("%d units committed before the cancel, want at least 3 and not all 7", len(before))
	}
	redone := 0
	if err := pipeline.Run(context.Background(), p, pipeline.Options{Catalog: cat, AfterCommit: func(in *pipeline.Instance, unit string) {
		for _, r := range before {
			if in.Stage.ID == "acc" && r.Unit == unit {
				redone++
			}
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if redone != 0 {
		t.Errorf("%d finished units were run again", redone)
	}
	if a, b := results(t, whole), results(t, out); !reflect.DeepEqual(a, b) {
		t.Errorf("resumed results\n%+v\ndiffer from\n%+v", b, a)
	}
}

func TestValidateProblems(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	base := study(w, t, filepath.Join(w.Dir, "x"))
	orig, _ := os.ReadFile(base)
	cases := []struct {
		name, from, to, want string
	}{
		{"cycle", "infer: {input: images}", "infer: {input: acc2}\n  - id: acc2\n    measure: {input: preds, metric: accuracy}",
			`stage "preds" is part of a cycle: preds → acc2 → preds`},
		{"unknown plugin", "metric: accuracy", "metric: acuracy", `:18:29: stage "acc": unknown metric plugin "acuracy" (installed: accuracy)`},
		{"wrong param type", "topk: [1, 2, 3]", "topk: five", `:18:56: stage "acc": parameter "topk": element 0: want a number (int), got the string "five"`},
		{"unknown param", "topk: [1, 2, 3]", "top: [1]", `parameter "top": is not a parameter of this plugin (it takes: topk, classes, group_by)`},
		{"missing model", "path: " + w.Model, "path: /nowhere/m.onnx", `:7:5: model "colour": model file /nowhere/m.onnx does not exist`},
		{"missing input", "infer: {input: images}", "infer: {input: imagez}", `stage "preds": input "imagez" is not a stage of this study`},
		{"wrong input kind", "measure: {input: preds", "measure: {input: images", `a measure stage reads infer stages, but "images" is a load stage`},
		{"unknown dataset kind", "kind: imagefolder", "kind: imagefoldr", `unknown kind "imagefoldr"`},
		{"list without sweep", "metric: accuracy, params: {topk: [1, 2, 3]}", "metric: accuracy, params: {topk: [1]}", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := strings.Replace(string(orig), c.from, c.to, 1)
			if body == string(orig) && c.from != c.to {
				t.Fatalf("replacement %q not found", c.from)
			}
			p := filepath.Join(t.TempDir(), "s.yaml")
			os.WriteFile(p, []byte(body), 0o644)
			s, err := pipeline.LoadStudy(p, nil)
			if err == nil {
				err = pipeline.Validate(s, cat)
			}
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if _, ok := pipeline.AsProblems(err); !ok || !strings.Contains(err.Error(), c.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, c.want)
			}
		})
	}
}

// TestWavesEqualOneWave: models evaluated one wave at a time (parallel_models: 1) give the
// results of one wave with both models; every unit is committed once, and the metric plugin
// runs in one process for the whole run (its waves and the finish), counted by the CPU profile
// every plugin process writes under sdk.EnvCPUProfile.
func TestWavesEqualOneWave(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	two := strings.Replace(readStudy(t, study(w, t, filepath.Join(w.Dir, "x"))), "models:\n", fmt.Sprintf(
		"models:\n  dim:\n    path: %s\n    input: {size: 16, resize: 16, scale: 0.4}\n    labels: %s\n", w.Model, w.Labels), 1)
	var outs []string
	for _, par := range []int{2, 1} {
		out := filepath.Join(w.Dir, fmt.Sprintf("par%d", par))
		p := filepath.Join(w.Dir, fmt.Sprintf("par%d.yaml", par))
		body := strings.Replace(two, "output: "+filepath.Join(w.Dir, "x"), "output: "+out, 1)
		body = strings.Replace(body, "execution: {", fmt.Sprintf("execution: {parallel_models: %d, ", par), 1)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		profiles := filepath.Join(w.Dir, fmt.Sprintf("prof%d", par))
		t.Setenv(sdk.EnvCPUProfile, profiles)
		var mu sync.Mutex
		commits := map[string]int{}
		if err := pipeline.Run(context.Background(), plan(t, p, cat), pipeline.Options{Catalog: cat, AfterCommit: func(in *pipeline.Instance, unit string) {
			mu.Lock() // stages commit from their own goroutines
			commits[in.Key()+"/"+unit]++
			mu.Unlock()
		}}); err != nil {
			t.Fatal(err)
		}
		for k, n := range commits {
			if n != 1 {
				t.Errorf("parallel_models %d: unit %s committed %d times", par, k, n)
			}
		}
		if procs, _ := filepath.Glob(profiles + ".metric.*"); len(procs) != 1 {
			t.Errorf("parallel_models %d: %d accuracy plugin processes (%v), want 1 for the run", par, len(procs), procs)
		}
		if procs, _ := filepath.Glob(profiles + ".runtime.*"); len(procs) == 0 {
			t.Errorf("parallel_models %d: no runtime process wrote a profile: the count above proves nothing", par)
		}
		outs = append(outs, out)
	}
	a, b := results(t, outs[0]), results(t, outs[1])
	if !reflect.DeepEqual(a, b) || len(a) != 6 {
		t.Errorf("one model per wave:\n%+v\nboth at once:\n%+v", b, a)
	}
}

func readStudy(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// peakAllocator tracks the most Arrow memory held at once.
type peakAllocator struct {
	memory.Allocator
	mu        sync.Mutex
	cur, peak int
}

func (p *peakAllocator) Allocate(n int) []byte {
	p.mu.Lock()
	p.cur += n
	p.peak = max(p.peak, p.cur)
	p.mu.Unlock()
	return p.Allocator.Allocate(n)
}

func (p *peakAllocator) Reallocate(n int, b []byte) []byte {
	p.mu.Lock()
	p.cur += n - len(b)
	p.peak = max(p.peak, p.cur)
	p.mu.Unlock()
	return p.Allocator.Reallocate(n, b)
}

func (p *peakAllocator) Free(b []byte) {
	p.mu.Lock()
	p.cur -= len(b)
	p.mu.Unlock()
	p.Allocator.Free(b)
}

// TestPeakMemoryIndependentOfDatasetSize runs the same study over a dataset and over one eight
// times larger: the Arrow memory held at once must not grow with it (streaming, bounded queues).
func TestPeakMemoryIndependentOfDatasetSize(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	big := filepath.Join(w.Dir, "big")
	for i := 0; i < 8; i++ {
		for _, class := range []string{"0red", "1green", "2blue", "3dark"} {
			files, _ := filepath.Glob(filepath.Join(w.Data, class, "img*.png"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				dst := filepath.Join(big, class, fmt.Sprintf("c%d-%s", i, filepath.Base(f)))
				os.MkdirAll(filepath.Dir(dst), 0o755)
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	peaks := map[string]int{}
	for name, data := range map[string]string{"small": w.Data, "big": big} {
		out := filepath.Join(w.Dir, "run-"+name)
		body := strings.Replace(readStudy(t, study(w, t, out)), "path: "+w.Data, "path: "+data, 1)
		p := filepath.Join(w.Dir, name+".yaml")
		os.WriteFile(p, []byte(body), 0o644)
		mem := &peakAllocator{Allocator: memory.NewGoAllocator()}
		if err := pipeline.Run(context.Background(), plan(t, p, cat), pipeline.Options{Catalog: cat, Mem: mem}); err != nil {
			t.Fatal(err)
		}
		peaks[name] = mem.peak
		if mem.cur != 0 {
			t.Errorf("%s: %d bytes still held after the run", name, mem.cur)
		}
	}
	t.Logf("peak Arrow memory: %d bytes over 55 samples, %d over 384", peaks["small"], peaks["big"])
	if peaks["big"] > peaks["small"]*3/2 {
		t.Errorf("peak memory grew with the dataset: %d bytes for 55 samples, %d for 384", peaks["small"], peaks["big"])
	}
}
