package gradattack_test

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/attacks/gradattack"
	"github.com/vistudy/vistudy/plugins/host"
	pb "github.com/vistudy/vistudy/plugins/proto"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/stages/load/synth"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
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

// world is a zoo model in the runtime plugin and an attack plugin bound to it, as a study runs them.
type world struct {
	rt *host.Runtime
	pt *host.Perturbation
}

func start(t *testing.T, mem memory.Allocator, model, attack string) world {
	t.Helper()
	rt := attacktest.StartRuntime(t, "zoo/models/"+model+".onnx", &pb.InputMapping{Height: 64, Width: 64}, "", "", mem)
	pt := attacktest.StartWithGradient(t, "plugins/attacks/"+attack, sdk.Model{Name: model, NumClasses: 8}, rt.Infer, rt.Gradient, mem)
	return world{rt, pt}
}

// accuracy is the share of rows whose label is the arg-max of the model's logits for batch.
func (w world) accuracy(t *testing.T, batch arrow.RecordBatch) float64 {
	t.Helper()
	out, err := w.rt.Infer(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	logits, _ := arrowio.TensorColumn(out, arrowio.ColLogits)
	labels, _ := arrowio.Int32Column(batch, arrowio.ColLabel)
	hits := 0
	for i, y := range labels {
		if sdk.Rank(logits.Row(i), y) == 0 {
			hits++
		}
	}
	return float64(hits) / float64(len(labels))
}

func (w world) attack(t *testing.T, raw map[string]any, batch arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	out, err := w.pt.Apply(context.Background(), attacktest.ParamsJSON(raw), batch, 42)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPGDZeroEps: eps 0 leaves every image as it was, so accuracy is unchanged; the success
// column marks exactly the samples the model already gets wrong.
func TestPGDZeroEps(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := start(t, mem, "standard", "pgd")
	batch := zooBatch(t, mem, 4)
	defer batch.Release()
	out := w.attack(t, map[string]any{"eps": 0.0, "steps": 5}, batch)
	defer out.Release()
	if got, want := attacktest.Images(t, out), attacktest.Images(t, batch); !equal(got, want) {
		t.Fatal("eps 0 changed the images")
	}
	clean := w.accuracy(t, batch)
	succ := boolColumn(t, out, gradattack.ColSuccess)
	wrong := 0
	for _, s := range succ {
		if s {
			wrong++
		}
	}
	if got := 1 - float64(wrong)/float64(len(succ)); math.Abs(got-clean) > 1e-12 {
		t.Fatalf("eps 0: %d of %d successes, but clean accuracy is %g", wrong, len(succ), clean)
	}
	if acc := w.accuracy(t, out); acc != clean {
		t.Fatalf("eps 0: accuracy %g after the attack, %g before", acc, clean)
	}
}

// TestPGDMonotoneAndAdvTrain: robust accuracy falls with eps (never rises) and drops well below
// clean accuracy; the adversarially trained zoo model keeps more at the same eps. Each δ stays in
// its ball and the delta column is x_adv − x. The 88-image batch (4.3 MB of pixels, gradients
// the same) crosses gRPC's 4 MiB default in both directions between host, attack and runtime.
func TestPGDMonotoneAndAdvTrain(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := zooBatch(t, mem, 11) // 88 images
	defer batch.Release()
	if n := attacktest.IPCSize(t, batch, mem); n <= 4<<20 {
		t.Fatalf("batch is %d bytes, want more than 4 MiB", n)
	}
	// the runtime's Gradient answers the whole batch: more than 4 MiB each way
	rt := attacktest.StartRuntime(t, "zoo/models/standard.onnx", &pb.InputMapping{Height: 64, Width: 64}, "", "", mem)
	g, err := rt.Gradient(context.Background(), batch, "margin")
	if err != nil {
		t.Fatal(err)
	}
	if n := attacktest.IPCSize(t, g, mem); n <= 4<<20 || g.NumRows() != batch.NumRows() {
		t.Fatalf("gradient batch: %d rows, %d bytes; want %d rows over 4 MiB", g.NumRows(), n, batch.NumRows())
	}
	g.Release()
	if c := gradattack.OracleChunk(3 * 64 * 64); c < int(batch.NumRows()) {
		t.Fatalf("oracle chunks of %d 64×64 images would split the batch", c)
	}
	robust := map[string][]float64{}
	epsGrid := []float64{0, 1.0 / 255, 2.0 / 255, 4.0 / 255, 8.0 / 255}
	for _, model := range []string{"standard", "advtrain"} {
		w := start(t, mem, model, "pgd")
		clean := w.accuracy(t, batch)
		for _, eps := range epsGrid {
			out := w.attack(t, map[string]any{"eps": eps, "steps": 7, "save_delta": true}, batch)
			acc := w.accuracy(t, out)
			checkBall(t, batch, out, eps, false)
			out.Release()
			robust[model] = append(robust[model], acc)
		}
		t.Logf("%s: clean %.3f, PGD-7 L∞ robust accuracy at eps %v: %v", model, clean, epsGrid, robust[model])
		r := robust[model]
		if r[0] != clean {
			t.Errorf("%s: eps 0 accuracy %g, clean %g", model, r[0], clean)
		}
		for i := 1; i < len(r); i++ {
			if r[i] > r[i-1] {
				t.Errorf("%s: robust accuracy rose from %g to %g between eps %g and %g", model, r[i-1], r[i], epsGrid[i-1], epsGrid[i])
			}
		}
	}
	if s, a := robust["standard"][4], robust["advtrain"][4]; s >= a || s > 0.5*robust["standard"][0] {
		t.Errorf("at eps 8/255: standard %g, advtrain %g; want standard below advtrain and below half its clean accuracy", s, a)
	}
}

// TestL2AndFGSM: L2 PGD keeps ‖δ‖₂ ≤ eps and breaks samples; FGSM changes each pixel of an
// attacked sample by at most eps and lowers accuracy.
func TestL2AndFGSM(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := zooBatch(t, mem, 3)
	defer batch.Release()
	w := start(t, mem, "standard", "pgd")
	clean := w.accuracy(t, batch)
	out := w.attack(t, map[string]any{"eps": 1.0, "norm": "l2", "steps": 10, "save_delta": true, "restarts": 2}, batch)
	defer out.Release()
	checkBall(t, batch, out, 1.0, true)
	if acc := w.accuracy(t, out); acc >= clean {
		t.Errorf("L2 PGD eps 1: accuracy %g, clean %g", acc, clean)
	}
	f := start(t, mem, "standard", "fgsm")
	fo := f.attack(t, map[string]any{"eps": 8.0 / 255, "save_delta": true}, batch)
	defer fo.Release()
	checkBall(t, batch, fo, 8.0/255, false)
	if acc := f.accuracy(t, fo); acc >= clean {
		t.Errorf("FGSM eps 8/255: accuracy %g, clean %g", acc, clean)
	}
	q := int32Column(t, fo, gradattack.ColQueries)
	succ := boolColumn(t, fo, gradattack.ColSuccess)
	for i := range q {
		// clean prediction, then (for correctly classified samples) one gradient and one prediction
		if (q[i] != 1 || !succ[i]) && q[i] != 3 {
			t.Errorf("FGSM row %d: %d queries (success %v), want 1 for an already wrong sample, else 3", i, q[i], succ[i])
		}
	}
}

// TestNoGradientOracle: an attack started with an oracle that has no Gradient (the plain
// StartPerturbation) fails with the host's explanation instead of hanging or guessing.
func TestNoGradientOracle(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rt := attacktest.StartRuntime(t, "zoo/models/standard.onnx", &pb.InputMapping{Height: 64, Width: 64}, "", "", mem)
	pt, _ := attacktest.Start(t, "plugins/attacks/pgd", sdk.Model{Name: "standard", NumClasses: 8}, rt.Infer, mem)
	batch := zooBatch(t, mem, 1)
	defer batch.Release()
	_, err := pt.Apply(context.Background(), attacktest.ParamsJSON(map[string]any{"eps": 4.0 / 255}), batch, 1)
	if err == nil || !strings.Contains(err.Error(), "serves no gradients") {
		t.Fatalf("Apply without a gradient oracle: %v", err)
	}
}

// checkBall fails unless delta = adv − clean and each sample's δ lies in the eps-ball and [0,1].
func checkBall(t *testing.T, clean, adv arrow.RecordBatch, eps float64, l2 bool) {
	t.Helper()
	x, xa := attacktest.Images(t, clean), attacktest.Images(t, adv)
	delta, err := arrowio.TensorColumn(adv, gradattack.ColDelta)
	if err != nil {
		t.Fatal(err)
	}
	per := len(x) / int(clean.NumRows())
	for i := 0; i < int(clean.NumRows()); i++ {
		n2, ninf := 0.0, 0.0
		for j := i * per; j < (i+1)*per; j++ {
			d := float64(xa[j]) - float64(x[j])
			if delta.Values()[j] != xa[j]-x[j] {
				t.Fatalf("row %d: delta %g, adv − clean %g", i, delta.Values()[j], xa[j]-x[j])
			}
			if xa[j] < 0 || xa[j] > 1 {
				t.Fatalf("row %d: pixel %g outside [0,1]", i, xa[j])
			}
			n2 += d * d
			ninf = math.Max(ninf, math.Abs(d))
		}
		if l2 && math.Sqrt(n2) > eps*(1+1e-5) {
			t.Fatalf("row %d: ‖δ‖₂ = %g > eps %g", i, math.Sqrt(n2), eps)
		}
		if !l2 && ninf > eps+1e-6 {
			t.Fatalf("row %d: ‖δ‖∞ = %g > eps %g", i, ninf, eps)
		}
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func boolColumn(t *testing.T, rec arrow.RecordBatch, name string) []bool {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q", name)
	}
	c := rec.Column(idx[0]).(*array.Boolean)
	out := make([]bool, c.Len())
	for i := range out {
		out[i] = c.Value(i)
	}
	return out
}

func int32Column(t *testing.T, rec arrow.RecordBatch, name string) []int32 {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q", name)
	}
	return rec.Column(idx[0]).(*array.Int32).Int32Values()
}
