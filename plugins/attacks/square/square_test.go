package main

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/load/synth"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestSchedule: AutoAttack's p halves after iterations 10, 50, …, 8000 of 10,000 (scaled to the
// budget), and squares fit non-square images.
func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		it, budget int
		want       float64
	}{
		{0, 10000, 0.8}, {10, 10000, 0.8}, {11, 10000, 0.4}, {50, 10000, 0.4}, {51, 10000, 0.2},
		{201, 10000, 0.1}, {8000, 10000, 0.8 / 256}, {8001, 10000, 0.8 / 512},
		{1, 1000, 0.8}, {2, 1000, 0.4}, {999, 1000, 0.8 / 512}, {5, 100, 0.1}, {1, 100, 0.2}, {0, 100, 0.8},
	} {
		if got := pSchedule(tc.it, tc.budget, 0.8); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("p(%d of %d) = %g, want %g", tc.it, tc.budget, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    float64
		h, w int
		want int
	}{{0.8, 160, 224, 160}, {0.8, 224, 224, 200}, {0.1, 160, 224, 60}, {1e-6, 64, 64, 1}} {
		if got := side(tc.p, tc.h, tc.w); got != tc.want {
			t.Errorf("side(%g, %d×%d) = %d, want %d", tc.p, tc.h, tc.w, got, tc.want)
		}
	}
}

// linear is a hand-written linear classifier on [3,H,W] images with seeded weights.
func linear(h, w, classes int) attacktest.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3 * h * w
	wts := make([]float32, classes*n)
	for i := range wts {
		wts[i] = float32(rng.NormFloat64()) / float32(math.Sqrt(float64(n)))
	}
	return func(img []float32) []float32 {
		out := make([]float32, classes)
		for k := range out {
			s := 0.0
			for j, v := range img {
				s += float64(wts[k*n+j]) * float64(v-0.5)
			}
			out[k] = float32(s) * 10
		}
		return out
	}
}

// TestSquareNonSquareDeterministic: on 160×224 images the same seed gives identical batches and
// another seed a different one; δ stays in the ball; successes are misclassified under the model,
// the rest are not and used the whole budget; queries are counted per sample.
func TestSquareNonSquareDeterministic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const h, w, budget = 160, 224, 60
	model := linear(h, w, 4)
	rng := rand.New(rand.NewPCG(9, 9))
	imgs := make([][]float32, 6)
	labels := make([]int32, len(imgs))
	for i := range imgs {
		imgs[i] = make([]float32, 3*h*w)
		for j := range imgs[i] {
			imgs[i][j] = rng.Float32()
		}
		labels[i] = int32(argmax(model(imgs[i])))
	}
	labels[5] = (labels[5] + 1) % 4 // one sample the model already gets wrong
	batch := attacktest.Batch(t, mem, []int{3, h, w}, labels, func(row, j int) float32 { return imgs[row][j] })
	defer batch.Release()
	const eps = 0.1 // a linear model over 107,520 pixels needs a large radius within 60 queries
	raw := map[string]any{"eps": eps, "queries": budget, "save_delta": true}
	env := &sdk.Env{Seed: 7, Oracle: model.Oracle(), Mem: mem}
	a := attacktest.Apply(t, square{}, raw, batch, env)
	defer a.Release()
	b := attacktest.Apply(t, square{}, raw, batch, env)
	defer b.Release()
	if !array.RecordEqual(a, b) {
		t.Fatal("same seed, different results")
	}
	c := attacktest.Apply(t, square{}, raw, batch, &sdk.Env{Seed: 8, Oracle: model.Oracle(), Mem: mem})
	defer c.Release()
	if array.RecordEqual(a, c) {
		t.Fatal("seeds 7 and 8 gave identical results")
	}
	adv := attacktest.Images(t, a)
	q := int32s(t, a, "queries")
	succ := bools(t, a, "success")
	delta, err := arrowio.TensorColumn(a, "delta")
	if err != nil {
		t.Fatal(err)
	}
	per := 3 * h * w
	broken := 0
	for i := range imgs {
		x := adv[i*per : (i+1)*per]
		for j, v := range x {
			if d := float64(v) - float64(imgs[i][j]); math.Abs(d) > eps+1e-6 || v < 0 || v > 1 || delta.Values()[i*per+j] != v-imgs[i][j] {
				t.Fatalf("row %d pixel %d: %g from %g (delta %g)", i, j, v, imgs[i][j], delta.Values()[i*per+j])
			}
		}
		wrong := argmax(model(x)) != int(labels[i])
		if succ[i] != wrong {
			t.Errorf("row %d: success %v, but the model's prediction on the result is wrong=%v", i, succ[i], wrong)
		}
		switch {
		case i == 5:
			if q[i] != 1 || !succ[i] {
				t.Errorf("already wrong row: %d queries, success %v; want 1, true", q[i], succ[i])
			}
		case succ[i]:
			broken++
			if q[i] < 2 || q[i] > 2+budget {
				t.Errorf("row %d: %d queries for a success", i, q[i])
			}
		default:
			if q[i] != 2+budget {
				t.Errorf("row %d: unbroken after %d queries, want 2+%d", i, q[i], budget)
			}
		}
	}
	if broken == 0 {
		t.Errorf("Square broke none of the 5 correctly classified samples at eps %g", eps)
	}
}

// TestSquareZoo runs the plugin process against the standard zoo model in the runtime plugin:
// at eps 8/255 it breaks most zoo test images and the result equals a second run (same seed).
func TestSquareZoo(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rt := attacktest.StartRuntime(t, "zoo/models/standard.onnx", &pb.InputMapping{Height: 64, Width: 64}, "", "", mem)
	pt, _ := attacktest.Start(t, "plugins/attacks/square", sdk.Model{Name: "standard", NumClasses: 8}, rt.Infer, mem)
	labelled := zooBatch(t, mem, 2)
	defer labelled.Release()
	raw := attacktest.ParamsJSON(map[string]any{"eps": 8.0 / 255, "queries": 200})
	out, err := pt.Apply(context.Background(), raw, labelled, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	again, err := pt.Apply(context.Background(), raw, labelled, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Release()
	if !array.RecordEqual(out, again) {
		t.Fatal("two runs with seed 5 differ")
	}
	succ := bools(t, out, "success")
	n := 0
	for _, s := range succ {
		if s {
			n++
		}
	}
	t.Logf("Square eps 8/255, 200 queries: %d of %d broken", n, len(succ))
	if n*2 < len(succ) {
		t.Errorf("Square broke %d of %d samples of the standard zoo model at eps 8/255, want at least half (PGD breaks all at 4/255)", n, len(succ))
	}
}

// zooClasses are the zoo models' classes (zoo/models/zoo.json).
var zooClasses = []string{"circle", "square", "triangle", "star", "cross", "ring", "heart", "arrow"}

// zooBatch renders perPair aligned test images per class at 64×64 (zoo test seed 201).
func zooBatch(t *testing.T, mem memory.Allocator, perPair int) arrow.RecordBatch {
	t.Helper()
	g, err := synth.New(synth.Config{Classes: zooClasses, Size: 64, Seed: 201, PerPair: perPair, Set: synth.Aligned})
	if err != nil {
		t.Fatal(err)
	}
	items := g.Items()
	labels := make([]int32, len(items))
	imgs := make([][]float32, len(items))
	for i, it := range items {
		labels[i] = int32(it.Label())
		img := g.Render(it)
		px := make([]float32, 3*64*64)
		for c := 0; c < 3; c++ {
			for p := 0; p < 64*64; p++ {
				px[c*64*64+p] = float32(img.Pix[4*p+c]) / 255
			}
		}
		imgs[i] = px
	}
	return attacktest.Batch(t, mem, []int{3, 64, 64}, labels, func(row, j int) float32 { return imgs[row][j] })
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func bools(t *testing.T, rec arrow.RecordBatch, name string) []bool {
	t.Helper()
	c := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Boolean)
	out := make([]bool, c.Len())
	for i := range out {
		out[i] = c.Value(i)
	}
	return out
}

func int32s(t *testing.T, rec arrow.RecordBatch, name string) []int32 {
	t.Helper()
	return rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Int32).Int32Values()
}
