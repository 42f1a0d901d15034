package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
	_ "github.com/vistudy/vistudy/stages/builtin"
)

// pixelMean is a stage kind defined outside pipeline/: per model geometry, the mean of each
// colour channel of the images it reads, by label. Its state is mergeable (sums and counts), so
// shards and resumed runs must give the same rows as one run.
type pixelMean struct{}

func (pixelMean) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:     "pixelmean",
		Summary:  "mean of each colour channel of the images read, by label",
		Flow:     pipeline.FlowSink,
		Keys:     []pipeline.Key{pipeline.KeyInput, pipeline.KeyModels, {Name: "scale", Type: "number", Default: "1", Doc: "multiply the means by this"}},
		Reads:    []pipeline.Data{pipeline.Images},
		Produces: pipeline.Rows,
		PerModel: true,
	}
}

func (pixelMean) Check(c *pipeline.Check, st *pipeline.Stage) {
	if v, ok := st.Extra["scale"]; ok {
		if _, isNum := v.(float64); !isNum {
			c.Add(st.Pos("scale"), "stage %q: scale must be a number, found %v", st.ID, v)
		}
	}
}

func (pixelMean) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	return x.PerModel(st, nil), nil
}

// meanState is the mergeable state: per label, the channel sums and the pixel count.
type meanState map[int32]*[4]float64

type folder struct{}

func (pixelMean) Start(context.Context, *pipeline.Env, *pipeline.Instance) (any, error) {
	return folder{}, nil
}

func (folder) Init(context.Context) ([]byte, error) { return json.Marshal(meanState{}) }

func (folder) Accumulate(_ context.Context, state []byte, rec arrow.RecordBatch) ([]byte, arrow.RecordBatch, error) {
	var st meanState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, nil, err
	}
	img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
	if err != nil {
		return nil, nil, err
	}
	labels, err := arrowio.Int32Column(rec, arrowio.ColLabel)
	if err != nil {
		return nil, nil, err
	}
	shape := img.Shape()
	plane := shape[1] * shape[2]
	for i := 0; i < int(rec.NumRows()); i++ {
		px := img.Row(i)
		s := st[labels[i]]
		if s == nil {
			s = &[4]float64{}
			st[labels[i]] = s
		}
		for c := 0; c < 3; c++ {
			for _, v := range px[c*plane : (c+1)*plane] {
				s[c] += float64(v)
			}
		}
		s[3] += float64(plane)
	}
	b, err := json.Marshal(st)
	return b, nil, err
}

func (pixelMean) InstanceRows(_ context.Context, f *pipeline.Final, in *pipeline.Instance, recs []*pipeline.UnitRecord) ([]arrowio.Result, error) {
	total := meanState{}
	for _, r := range recs {
		var st meanState
		if err := json.Unmarshal(r.State, &st); err != nil {
			return nil, err
		}
		for k, s := range st {
			if total[k] == nil {
				total[k] = &[4]float64{}
			}
			for c := range s {
				total[k][c] += s[c]
			}
		}
	}
	scale := 1.0
	if v, ok := in.Stage.Extra["scale"].(float64); ok {
		scale = v
	}
	var rows []arrowio.Result
	for k, s := range total {
		for c, name := range []string{"mean_r", "mean_g", "mean_b"} {
			rows = append(rows, arrowio.Result{Model: in.ModelName(), Metric: name,
				Group: fmt.Sprintf("label=%d", k), Value: scale * s[c] / s[3], N: int64(s[3])})
		}
	}
	return rows, nil
}

func init() { pipeline.Register(pixelMean{}) }

func writeStudy(t *testing.T, w *testenv.ColourWorld, output string) string {
	return colourStudy(t, w, output, "seed: 3\nexecution: {batch_size: 4, unit_size: 8, workers: 2}", `  - id: means
    pixelmean: {input: images, scale: 255}
`)
}

// colourStudy writes a study of the colour world's model and images: head (top-level keys), a
// load stage `images`, then the stages given, and returns its path.
func colourStudy(t *testing.T, w *testenv.ColourWorld, output, head, stages string) string {
	t.Helper()
	body := fmt.Sprintf(`name: %s
output: %s
%s
models:
  colour: {path: %s, input: {size: 16, resize: 16}, labels: %s}
datasets:
  colours: {kind: imagefolder, path: %s}
stages:
  - id: images
    load: {dataset: colours}
%s`, filepath.Base(output), output, head, w.Model, w.Labels, w.Data, stages)
	p := filepath.Join(w.Dir, "study-"+filepath.Base(output)+".yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newPlan(t *testing.T, path string) *pipeline.Plan {
	t.Helper()
	s, err := pipeline.LoadStudy(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Validate(s, nil); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.NewPlan(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExternalKindEndToEnd registers a stage kind from outside pipeline/ and runs it whole,
// interrupted and resumed, and as three shards plus merge: the known answer (the colour world's
// solid colours) every time, and byte-identical results.parquet.
func TestExternalKindEndToEnd(t *testing.T) {
	w := testenv.NewColourWorld(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	whole := filepath.Join(t.TempDir(), "whole")
	if err := pipeline.Run(context.Background(), newPlan(t, writeStudy(t, w, whole)), pipeline.Options{Mem: mem}); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	rows, err := pqfile.ReadResults(filepath.Join(whole, pipeline.ResultsFile), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	// Folder label → mean red: 0red is 230; 1green holds 12 green (25) and 4 red (230) images.
	want := map[string]float64{"label=0": 230, "label=1": (12*25 + 4*230) / 16.0, "label=2": 25, "label=3": 51}
	got := 0
	for _, r := range rows {
		if r.Stage != "means" || r.Metric != "mean_r" {
			continue
		}
		got++
		if math.Abs(r.Value-want[r.Group]) > 1e-3 {
			t.Errorf("%s mean_r = %.4f, want %.4f", r.Group, r.Value, want[r.Group])
		}
	}
	if got != 4 {
		t.Fatalf("%d mean_r rows, want 4 (one per label): %v", got, rows)
	}
	wantBytes, _ := os.ReadFile(filepath.Join(whole, pipeline.ResultsFile))

	t.Run("resume", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "resumed")
		p := newPlan(t, writeStudy(t, w, out))
		ctx, cancel := context.WithCancel(context.Background())
		var commits atomic.Int32
		err := pipeline.Run(ctx, p, pipeline.Options{Mem: mem, AfterCommit: func(in *pipeline.Instance, _ string) {
			if in.Stage.ID == "means" && commits.Add(1) == 2 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run returned %v", err)
		}
		mem.AssertSize(t, 0)
		var redone atomic.Int32
		kept := commits.Load()
		err = pipeline.Run(context.Background(), newPlan(t, writeStudy(t, w, out)), pipeline.Options{AfterCommit: func(in *pipeline.Instance, _ string) {
			if in.Stage.ID == "means" {
				redone.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if total := kept + redone.Load(); redone.Load() == 0 || total < 7 {
			t.Errorf("resume committed %d units after %d kept, want the rest of 7", redone.Load(), kept)
		}
		b, _ := os.ReadFile(filepath.Join(out, pipeline.ResultsFile))
		if !bytes.Equal(b, wantBytes) {
			t.Error("results.parquet of the resumed run differs from the whole run's")
		}
	})

	t.Run("shards", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "sharded")
		path := writeStudy(t, w, out)
		for i := 0; i < 3; i++ {
			if err := pipeline.Run(context.Background(), newPlan(t, path), pipeline.Options{Shard: pipeline.Shard{Index: i, Count: 3}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pipeline.Finalize(context.Background(), newPlan(t, path), pipeline.Options{}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(out, pipeline.ResultsFile))
		if !bytes.Equal(b, wantBytes) {
			t.Error("results.parquet of three shards plus merge differs from the whole run's")
		}
	})

	t.Run("bad key", func(t *testing.T) {
		path := writeStudy(t, w, filepath.Join(t.TempDir(), "bad"))
		data, _ := os.ReadFile(path)
		os.WriteFile(path, bytes.Replace(data, []byte("scale: 255"), []byte("scale: big"), 1), 0o644)
		s, err := pipeline.LoadStudy(path, nil)
		if err == nil {
			err = pipeline.Validate(s, nil)
		}
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(":13:")) {
			t.Errorf("a wrong value of the kind's own key gives %v, want a problem at line 13", err)
		}
	})
}
