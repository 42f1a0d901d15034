package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
	"github.com/vistudy/vistudy/plugins/host"
)

// TestRandomnessIndependentOfBatching runs a random corruption (gaussian noise) twice, with
// different batch and unit sizes: every sample gets the same noise, so its logits are equal
// between the runs (and differ from the clean ones: the noise is there).
func TestRandomnessIndependentOfBatching(t *testing.T) {
	dir := testenv.Plugins(t, "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/attacks/corruption")
	cat := host.NewCatalog()
	if err := cat.Discover(context.Background(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	w := testenv.NewColourWorld(t)
	logits := func(batch, unit int, stage string) map[string][]float32 {
		out := filepath.Join(w.Dir, fmt.Sprintf("run-%d-%d", batch, unit))
		body := fmt.Sprintf(`name: seeds
seed: 7
output: %s
execution: {batch_size: %d, unit_size: %d}
models:
  colour: {path: %s, input: {size: 16, resize: 16}, labels: %s}
datasets:
  colours: {kind: imagefolder, path: %s}
stages:
  - id: images
    load: {dataset: colours}
  - id: clean
    infer: {input: images}
  - id: noisy
    perturb: {input: images, attack: corruption, params: {name: gaussian_noise, severity: 5}}
  - id: noisy_preds
    infer: {input: noisy}
`, out, batch, unit, w.Model, w.Labels, w.Data)
		p := filepath.Join(w.Dir, fmt.Sprintf("study-%d-%d.yaml", batch, unit))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		if err := pipeline.Run(context.Background(), plan(t, p, cat), pipeline.Options{Catalog: cat, Mem: mem}); err != nil {
			t.Fatal(err)
		}
		got := map[string][]float32{}
		parts, _ := filepath.Glob(filepath.Join(out, "tables", stage, "*", "part-*.parquet"))
		for _, part := range parts {
			rec, err := pqfile.ReadParquet(part, mem)
			if err != nil {
				t.Fatal(err)
			}
			ids, _ := arrowio.StringColumn(rec, arrowio.ColSampleID)
			lg, err := arrowio.TensorColumn(rec, arrowio.ColLogits)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				got[id] = slices.Clone(lg.Row(i))
			}
			rec.Release()
		}
		mem.AssertSize(t, 0)
		return got
	}
	a, b := logits(4, 8, "noisy_preds"), logits(3, 5, "noisy_preds")
	clean := logits(4, 8, "clean")
	if len(a) != 52 || len(b) != 52 {
		t.Fatalf("%d and %d noisy predictions, want 52 each", len(a), len(b))
	}
	same := 0
	for id, la := range a {
		if !slices.Equal(la, b[id]) {
			t.Errorf("sample %s: logits %v with batches of 4, %v with batches of 3", id, la, b[id])
		}
		if slices.Equal(la, clean[id]) {
			same++
		}
	}
	if same == len(a) {
		t.Error("the noisy logits equal the clean ones: no noise was applied")
	}
}
