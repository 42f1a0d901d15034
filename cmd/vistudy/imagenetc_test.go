package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
)

// TestImageNetCLayout evaluates SqueezeNet on files in the published ImageNet-C layout
// (<corruption>/<severity>/<wnid>/<file>; here 48 imagenet-sample photos spread over fog/3,
// fog/5 and snow/1, linked, not corrupted: the test is of the layout, not of the corruptions):
// the loaded batches carry corruption and severity as columns, accuracy grouped by them equals
// the accuracy of the same files selected with the dataset's own corruptions/severities keys, and
// mCE against a table of baseline errors is CE = Σ_s err / Σ_s baseline err, averaged.
func TestImageNetCLayout(t *testing.T) {
	sample := testenv.SharedData(t, "imagenet-sample")
	model := testenv.SharedData(t, "models", "squeezenet1.1-fp16", "model.onnx")
	bin := testenv.Plugins(t, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy")
	vistudy := filepath.Join(bin, "vistudy")
	files, _ := filepath.Glob(filepath.Join(sample, "*.JPEG"))
	sort.Strings(files)
	if len(files) < 48 {
		t.Skipf("imagenet-sample has %d JPEGs, want 48", len(files))
	}
	dir := t.TempDir()
	cells := []string{"fog/3", "fog/5", "snow/1"}
	for i, f := range files[:48] {
		wnid, _, _ := strings.Cut(filepath.Base(f), "_")
		d := filepath.Join(dir, "inc", cells[i%3], wnid)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(f, filepath.Join(d, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, dataset, extra string) string {
		body := fmt.Sprintf(`name: %s
output: %s
execution: {batch_size: 8, unit_size: 16}
models:
  squeezenet:
    path: %s
    input: {resize: 256, size: 224, channels: BGR, scale: 255, mean: [103.939, 116.779, 123.68]}
    output_tensor: pool10_1
    labels: imagenet1k
datasets:
  inc: %s
stages:
  - id: images
    load: {dataset: inc}
  - id: preds
    infer: {input: images}
%s`, name, filepath.Join(dir, "runs", name), model, dataset, extra)
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := filepath.Join(dir, "inc")
	all := write("all", fmt.Sprintf("{kind: imagenet-c, path: %s}", root), `  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1], group_by: [corruption, severity]}}
  - id: mce
    aggregate:
      inputs: [acc]
      fn: mce
      params: {corrupted: acc, name_key: corruption, baseline_errors: ["fog/3=0.5", "fog/5=0.8", "snow/1=0.4"]}
`)
	mustRun(t, vistudy, "run", all, "--no-progress")
	rows, err := pqfile.ReadResults(filepath.Join(dir, "runs", "all", "results.parquet"), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]arrowio.Result{}
	for _, r := range rows {
		got[r.Stage+"/"+r.Metric+"/"+r.Group] = r
	}
	// Each cell's grouped accuracy equals the ungrouped accuracy of a study of that cell alone.
	acc := map[string]float64{}
	for _, cell := range cells {
		c, s, _ := strings.Cut(cell, "/")
		name := "only_" + c + s
		p := write(name, fmt.Sprintf("{kind: imagenet-c, path: %s, corruptions: [%s], severities: [%s]}", root, c, s),
			"  - id: acc\n    measure: {input: preds, metric: accuracy, params: {topk: [1]}}\n")
		mustRun(t, vistudy, "run", p, "--no-progress")
		one, err := pqfile.ReadResults(filepath.Join(dir, "runs", name, "results.parquet"), memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		var alone arrowio.Result
		for _, r := range one {
			if r.Stage == "acc" && r.Metric == "top1" && r.Group == "" {
				alone = r
			}
		}
		g := got["acc/top1/corruption="+c+",severity="+s]
		if g.N != 16 || alone.N != 16 || g.Value != alone.Value {
			t.Errorf("%s: grouped top-1 %v over %d, the cell alone %v over %d", cell, g.Value, g.N, alone.Value, alone.N)
		}
		acc[cell] = g.Value
	}
	ceFog := ((1 - acc["fog/3"]) + (1 - acc["fog/5"])) / (0.5 + 0.8)
	ceSnow := (1 - acc["snow/1"]) / 0.4
	for k, want := range map[string]float64{"mce/ce/corruption=fog": ceFog, "mce/ce/corruption=snow": ceSnow, "mce/mce/": (ceFog + ceSnow) / 2} {
		if r, ok := got[k]; !ok || math.Abs(r.Value-want) > 1e-12 {
			t.Errorf("%s = %v (present %v), want %v", k, r.Value, ok, want)
		}
	}
	// The per-sample predictions carry each file's corruption and severity.
	parts, _ := filepath.Glob(filepath.Join(dir, "runs", "all", "tables", "preds", "*", "part-*.parquet"))
	seen := 0
	for _, p := range parts {
		rec, err := pqfile.ReadParquet(p, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := arrowio.StringColumn(rec, arrowio.ColSampleID)
		cs, err := arrowio.StringColumn(rec, "corruption")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		sev, ok := rec.Column(rec.Schema().FieldIndices("severity")[0]).(*array.Int64)
		if !ok {
			t.Fatalf("%s: severity is %s, want int64", p, rec.Schema())
		}
		for i, id := range ids {
			if want := fmt.Sprintf("%s/%d/", cs[i], sev.Value(i)); !strings.HasPrefix(id, want) {
				t.Errorf("sample %s: corruption %s, severity %d", id, cs[i], sev.Value(i))
			}
			seen++
		}
		rec.Release()
	}
	if seen != 48 {
		t.Errorf("%d predictions, want 48", seen)
	}
}
