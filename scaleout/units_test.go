package scaleout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/host"
	_ "github.com/vistudy/vistudy/stages/builtin" // the stage kinds
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// zooPlan plans a study of two zoo models on 100 synthetic images in units of 16 (the last one
// short), with saved and unsaved predictions.
func zooPlan(t *testing.T, dir string) (*pipeline.Plan, *host.Catalog) {
	t.Helper()
	zoo := filepath.Join(testenv.Root(t), "zoo", "models")
	body := fmt.Sprintf(`name: census
seed: 2
output: %[2]s/run
execution: {batch_size: 8, unit_size: 16}
runtime: {threads: 1}
models:
  standard: {path: %[1]s/standard.onnx, input: {size: 64}, labels: %[1]s/labels.txt}
  stylised: {path: %[1]s/stylised.onnx, input: {size: 64}, labels: %[1]s/labels.txt}
datasets:
  clean: {kind: synthetic-cue-conflict, set: aligned, seed: 7, per_pair: 10, limit: 70, labels: %[1]s/labels.txt}
stages:
  - id: images
    load: {dataset: clean}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
  - id: quiet
    infer: {input: images}
    save: false
  - id: quiet_acc
    measure: {input: quiet, metric: accuracy, params: {topk: [1]}}
`, zoo, dir)
	p := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := pipeline.LoadStudy(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := testenv.Catalog(t, "runtimes/onnxruntime", "plugins/metrics/accuracy")
	if err := pipeline.Validate(s, cat); err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.NewPlan(s, cat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plan.Close() })
	return plan, cat
}

// records lists the unit records of a run directory, relative to units/.
func records(t *testing.T, runDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(runDir, UnitsDir)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") && !strings.HasPrefix(d.Name(), ".") {
			r, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestCensusMatchesWhatAShardCommits runs one shard of three for real and checks that the
// units ExpectedUnits assigns to it are exactly the records the run wrote.
func TestCensusMatchesWhatAShardCommits(t *testing.T) {
	dir := t.TempDir()
	plan, cat := zooPlan(t, dir)
	units, err := ExpectedUnits(plan)
	if err != nil {
		t.Fatal(err)
	}
	// 70 images in units of 16: 5 units; committing: images, preds × 2, acc × 2, quiet_acc × 2
	// (quiet does not save, so it commits nothing).
	if len(units) != 5*7 {
		t.Fatalf("%d units expected, want 35", len(units))
	}
	before, err := Census(plan.Study.Output, units, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range before {
		if c.Done != 0 || c.Expected == 0 {
			t.Fatalf("before the run: %+v", c)
		}
	}
	err = pipeline.Run(context.Background(), plan, pipeline.Options{
		Catalog: cat, Shard: pipeline.Shard{Index: 1, Count: 3},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, u := range units {
		if u.Shard(3) == 1 {
			r, _ := filepath.Rel(filepath.Join(plan.Study.Output, UnitsDir), u.Record(plan.Study.Output))
			want = append(want, filepath.ToSlash(r))
		}
	}
	slices.Sort(want)
	if got := records(t, plan.Study.Output); !slices.Equal(got, want) {
		t.Fatalf("shard 1/3 wrote\n%s\nExpectedUnits says\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	after, err := Census(plan.Study.Output, units, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Units 1 and 4 are shard 1's: 2 × 7 records.
	wantCounts := []ShardCount{{Shard: 0, Expected: 14}, {Shard: 1, Expected: 14, Done: 14}, {Shard: 2, Expected: 7}}
	if !slices.Equal(after, wantCounts) {
		t.Fatalf("census %+v, want %+v", after, wantCounts)
	}
	if inc := Incomplete(after); !slices.Equal(inc, []int{0, 2}) {
		t.Errorf("incomplete shards %v, want [0 2]", inc)
	}
	w, err := WorkloadOf(plan)
	if err != nil {
		t.Fatal(err)
	}
	e := EstimateWorkload(w, DefaultRates, 3, time.Hour)
	if e.Units != int64(len(units)) || e.MaxTasks != 5 || e.Inferences != 4*70 || e.PartFiles != 3*2*5 { // preds, acc and quiet_acc (accuracy saves its ranks) × 2 models × 5 units
		t.Errorf("estimate of the plan: %d units (census %d), %d max tasks, %d inferences, %d part files", e.Units, len(units), e.MaxTasks, e.Inferences, e.PartFiles)
	}
}
