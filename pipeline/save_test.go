package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
)

// TestSaveOnEveryKind runs a study whose stages set save: against their kinds' defaults and checks
// which tables exist: a saved load stage writes its images (with stage and dataset columns), an
// unsaved infer or measure stage writes none, a measure stage saves by default; save: true on an
// aggregate stage, which has no table, is a validation error naming the key.
func TestSaveOnEveryKind(t *testing.T) {
	cat := pluginCatalog(t)
	w := testenv.NewColourWorld(t)
	out := filepath.Join(w.Dir, "run")
	body := fmt.Sprintf(`name: save
output: %s
execution: {batch_size: 4, unit_size: 8}
models:
  colour: {path: %s, input: {size: 16, resize: 16}, labels: %s}
datasets:
  colours: {kind: imagefolder, path: %s}
stages:
  - id: images
    load: {dataset: colours}
    save: true
  - id: preds
    infer: {input: images}
    save: false
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
    save: false
  - id: acc_kept
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
`, out, w.Model, w.Labels, w.Data)
	path := filepath.Join(w.Dir, "save.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	if err := pipeline.Run(context.Background(), plan(t, path, cat), pipeline.Options{Catalog: cat, Mem: mem}); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	parts := func(stage string) []string {
		p, _ := filepath.Glob(filepath.Join(out, "tables", stage, "*", "part-*.parquet"))
		return p
	}
	for stage, want := range map[string]bool{"images": true, "preds": false, "acc": false, "acc_kept": true} {
		if got := len(parts(stage)) > 0; got != want {
			t.Errorf("stage %s: table written %v, want %v", stage, got, want)
		}
	}
	var rows int64
	for _, p := range parts("images") {
		rec, err := pqfile.ReadParquet(p, mem)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := arrowio.StringColumn(rec, arrowio.ColStage)
		ds, _ := arrowio.StringColumn(rec, arrowio.ColDataset)
		if _, err := arrowio.TensorColumn(rec, arrowio.ColImage); err != nil || len(st) == 0 || st[0] != "images" || ds[0] != "colours" {
			t.Errorf("%s: image column %v, stage %v, dataset %v", p, err, st, ds)
		}
		rows += rec.NumRows()
		rec.Release()
	}
	mem.AssertSize(t, 0)
	if rows != 52 {
		t.Errorf("the saved load stage holds %d images, want the 52 readable ones", rows)
	}

	bad := strings.Replace(body, "  - id: acc_kept\n", `  - id: sol
    aggregate: {inputs: [acc], fn: solarization, params: {sweep: acc}}
    save: true
  - id: acc_kept
`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := pipeline.LoadStudy(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = pipeline.Validate(s, cat)
	if err == nil || !strings.Contains(err.Error(), `stage "sol": save: true, but a stage of kind aggregate has no per-sample table`) ||
		!strings.Contains(err.Error(), ":20:") {
		t.Errorf("save: true on an aggregate: %v, want an error at line 20 naming the key", err)
	}
}
