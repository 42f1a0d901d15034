// Package zoo_test checks the committed model zoo through vistudy's ONNX Runtime plugin and the Go
// generator: the models are small opset ≥ 13 float32 graphs with a dynamic batch axis, give the
// same logits at batch 1 and 64, and reproduce their model cards' numbers on freshly rendered stimuli.
package zoo_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/load/synth"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// card is the part of a model's entry in models/zoo.json the tests use.
type card struct {
	Size         int     `json:"size"`
	TestAligned  setSpec `json:"test_aligned"`
	TestConflict setSpec `json:"test_conflict"`
	Metrics      struct {
		CleanAccuracy   float64 `json:"clean_accuracy"`
		ShapeFraction   float64 `json:"shape_fraction"`
		TextureFraction float64 `json:"texture_fraction"`
	} `json:"metrics"`
}

// setSpec is a generator configuration as zoo/gen writes it.
type setSpec struct {
	Set     string   `json:"set"`
	Seed    uint64   `json:"seed"`
	PerPair int      `json:"per_pair"`
	Size    int      `json:"size"`
	Classes []string `json:"classes"`
}

type zooFile struct {
	Classes []string        `json:"classes"`
	Models  map[string]card `json:"models"`
}

// Regimes are the four training regimes the zoo must hold.
var regimes = []string{"standard", "stylised", "advtrain", "augment"}

const (
	maxModelBytes = 1 << 20
	// Torch (which wrote the cards) and ONNX Runtime differ in the last bits of the logits, which
	// can flip a near-tie: allow this many images to change decision.
	flipTolerance = 2
)

func readZoo(t *testing.T) zooFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("models", "zoo.json"))
	if err != nil {
		t.Fatalf("read model index: %v", err)
	}
	var z zooFile
	if err := json.Unmarshal(b, &z); err != nil {
		t.Fatalf("parse models/zoo.json: %v", err)
	}
	return z
}

func TestZooFiles(t *testing.T) {
	z := readZoo(t)
	labels, err := os.ReadFile(filepath.Join("models", "labels.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(labels)); strings.Join(got, ",") != strings.Join(z.Classes, ",") {
		t.Errorf("labels.txt %v, zoo.json classes %v", got, z.Classes)
	}
	if strings.Join(z.Classes, ",") != strings.Join(synth.DefaultClasses(), ",") {
		t.Errorf("zoo classes %v, generator default %v", z.Classes, synth.DefaultClasses())
	}
	for _, r := range regimes {
		if _, ok := z.Models[r]; !ok {
			t.Errorf("zoo.json lacks regime %s", r)
		}
		if _, err := os.Stat(filepath.Join("models", r+".md")); err != nil {
			t.Errorf("model card: %v", err)
		}
		path := filepath.Join("models", r+".onnx")
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("model: %v", err)
			continue
		}
		if st.Size() > maxModelBytes {
			t.Errorf("%s.onnx: %d bytes, limit %d", r, st.Size(), maxModelBytes)
		}
		m, err := onnx.Open(path)
		if err != nil {
			t.Errorf("%s.onnx: %v", r, err)
			continue
		}
		if v := m.OpsetVersion(); v < 13 {
			t.Errorf("%s.onnx: opset %d, want ≥ 13", r, v)
		}
		if in := m.Inputs(); len(in) != 1 || in[0].ElemType != onnx.Float32 || in[0].Dims[0].Param == "" {
			t.Errorf("%s.onnx: inputs %+v, want one float32 input with a symbolic batch dimension", r, in)
		}
		m.Close()
	}
}

// render draws every item of spec as float32 [N, 3, H, W] RGB in [0, 1], with the items.
func render(t *testing.T, spec setSpec) ([]float32, []synth.Item) {
	t.Helper()
	kind, err := synth.ParseSetKind(spec.Set)
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(synth.Config{Classes: spec.Classes, Size: spec.Size, Seed: spec.Seed, PerPair: spec.PerPair, Set: kind})
	if err != nil {
		t.Fatal(err)
	}
	items := g.Items()
	hw := spec.Size * spec.Size
	x := make([]float32, 0, len(items)*3*hw)
	for _, it := range items {
		img := g.Render(it)
		for c := range 3 {
			for p := range hw {
				x = append(x, float32(img.Pix[4*p+c])/255)
			}
		}
	}
	return x, items
}

// model runs one zoo model through the runtime plugin, as `vistudy run` does.
type model struct {
	rt      *host.Runtime
	size    int
	classes int
}

func (m model) logits(t *testing.T, x []float32) []float32 {
	t.Helper()
	mem := memory.NewGoAllocator()
	arr, err := arrowio.NewTensorArray(mem, []int{3, m.size, m.size}, x)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: arrowio.ColImage, Type: arr.DataType()}}, nil), []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	out, err := m.rt.Infer(context.Background(), rec)
	if err != nil {
		t.Fatalf("infer a batch of %d: %v", arr.Len(), err)
	}
	defer out.Release()
	lg, err := arrowio.TensorColumn(out, arrowio.ColLogits)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), lg.Values()...)
}

// predict returns the arg-max class of every image of x, run in batches of 64.
func (m model) predict(t *testing.T, x []float32) []int {
	t.Helper()
	per := 3 * m.size * m.size
	var pred []int
	for lo := 0; lo < len(x); lo += 64 * per {
		l := m.logits(t, x[lo:min(lo+64*per, len(x))])
		for r := 0; r < len(l)/m.classes; r++ {
			row := l[r*m.classes : (r+1)*m.classes]
			best := 0
			for k, v := range row {
				if v > row[best] {
					best = k
				}
			}
			pred = append(pred, best)
		}
	}
	return pred
}

func TestZooModels(t *testing.T) {
	e, ok := testenv.Catalog(t, "runtimes/onnxruntime").Lookup(sdk.KindRuntime, "onnxruntime")
	if !ok {
		t.Fatal("runtime plugin not discovered")
	}
	z := readZoo(t)
	for _, r := range regimes {
		c := z.Models[r]
		t.Run(r, func(t *testing.T) {
			path, _ := filepath.Abs(filepath.Join("models", r+".onnx"))
			rt, err := host.StartRuntime(context.Background(), e, &pb.LoadRequest{Path: path, Name: r,
				Input: &pb.InputMapping{Height: int32(c.Size), Width: int32(c.Size)}, IntraThreads: 1}, memory.NewGoAllocator())
			if err != nil {
				t.Fatalf("load %s.onnx: %v", r, err)
			}
			defer rt.Close()
			if b := rt.Desc().Batching; b != "symbolic" {
				t.Errorf("batching %q, want symbolic (the zoo exports a dynamic batch axis)", b)
			}
			m := model{rt: rt, size: c.Size, classes: len(z.Classes)}

			x, items := render(t, c.TestAligned)
			per := 3 * c.Size * c.Size
			// Batch 64 at once and 64 times batch 1 give the same logits, row by row.
			batch := m.logits(t, x[:64*per])
			for i := range 64 {
				one := m.logits(t, x[i*per:(i+1)*per])
				for k, v := range one {
					if w := batch[i*m.classes+k]; v != w {
						t.Fatalf("image %d logit %d: batch 1 gives %v, batch 64 gives %v", i, k, v, w)
					}
				}
			}

			hits := 0
			for i, p := range m.predict(t, x) {
				if p == items[i].Shape {
					hits++
				}
			}
			want := c.Metrics.CleanAccuracy * float64(len(items))
			t.Logf("clean accuracy %.4f (card %.4f, %d images)", float64(hits)/float64(len(items)), c.Metrics.CleanAccuracy, len(items))
			if math.Abs(float64(hits)-want) > flipTolerance+0.01 {
				t.Errorf("clean accuracy %d/%d, card says %.4f", hits, len(items), c.Metrics.CleanAccuracy)
			}

			x, items = render(t, c.TestConflict)
			shape, texture := 0, 0
			for i, p := range m.predict(t, x) {
				switch p {
				case items[i].Shape:
					shape++
				case items[i].Texture:
					texture++
				}
			}
			n := float64(len(items))
			t.Logf("cue conflict: shape %.4f texture %.4f (card %.4f, %.4f)", float64(shape)/n, float64(texture)/n, c.Metrics.ShapeFraction, c.Metrics.TextureFraction)
			if math.Abs(float64(shape)-c.Metrics.ShapeFraction*n) > flipTolerance+0.01 ||
				math.Abs(float64(texture)-c.Metrics.TextureFraction*n) > flipTolerance+0.01 {
				t.Errorf("cue conflict shape %d texture %d of %d, card says %.4f, %.4f", shape, texture, len(items), c.Metrics.ShapeFraction, c.Metrics.TextureFraction)
			}
		})
	}
}
