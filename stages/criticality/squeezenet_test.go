package criticality

import (
	"bufio"
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/infer"
	"github.com/vistudy/vistudy/stages/load"
)

// squeezeNet is the shared SqueezeNet 1.1 loaded for a sweep over a seeded imagenet-sample subset.
type squeezeNet struct {
	model  *onnx.Model
	layers []onnx.Layer
	rt     Runtime
	imgs   *Spill
}

// subsetSeed fixes which imagenet-sample images the SqueezeNet checks use.
const subsetSeed = 2024

// newSqueezeNet loads n seeded imagenet-sample images and starts the runtime with every conv layer overridable.
func newSqueezeNet(tb testing.TB, mem memory.Allocator, n int) *squeezeNet {
	tb.Helper()
	path := filepath.Join(testenv.SharedData(tb, "models", "squeezenet1.1-fp16"), "model.onnx")
	data := testenv.SharedData(tb, "imagenet-sample")
	wnids := readLines(tb, testenv.SharedData(tb, "imagenet1k_wnids.txt"))
	m, err := onnx.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	layers, err := Select(m, nil)
	if err != nil {
		tb.Fatal(err)
	}
	names, err := Overridable(m, layers)
	if err != nil {
		tb.Fatal(err)
	}
	rt := startRuntime(tb, sdk.LoadSpec{Path: path, Name: "squeezenet",
		Input:  sdk.InputMapping{Channels: "BGR", Scale: 255, Mean: []float64{103.939, 116.779, 123.68}, Height: 224, Width: 224},
		Output: "logits", OutputTensor: "pool10_1", IntraThreads: 2, Overridable: names}, mem)

	entries, err := os.ReadDir(data)
	if err != nil {
		tb.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".JPEG") {
			files = append(files, e.Name())
		}
	}
	pick := rand.New(rand.NewPCG(subsetSeed, 0)).Perm(len(files))[:n]
	slices.Sort(pick)
	var imgs [][]float32
	var labels []int32
	for _, i := range pick {
		img, err := load.Decode(filepath.Join(data, files[i]))
		if err != nil {
			tb.Fatal(err)
		}
		pix, err := load.Preprocess(img, load.Geometry{Resize: 256, Height: 224, Width: 224})
		if err != nil {
			tb.Fatal(err)
		}
		wnid, _, _ := strings.Cut(files[i], "_")
		imgs, labels = append(imgs, pix), append(labels, int32(slices.Index(wnids, wnid)))
	}
	s := spillOf(tb, mem, imgs, labels, 16)
	tb.Cleanup(func() { s.Close() })
	return &squeezeNet{model: m, layers: layers, rt: rt, imgs: s}
}

// readLines returns the non-empty lines of a file.
func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// sweepAll resets every layer of sq trials times and returns the results and the sweep's wall time.
func (sq *squeezeNet) sweepAll(tb testing.TB, ref *Ref, trials int) ([]*LayerResult, time.Duration) {
	tb.Helper()
	p := values(tb, map[string]any{"trials": trials})
	start := time.Now()
	var out []*LayerResult
	for _, l := range sq.layers {
		res, err := Sweep(context.Background(), sq.rt, sq.imgs, ref, sq.model, l, p, LayerSeed(1, l.Name))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, res)
	}
	return out, time.Since(start)
}

// TestSqueezeNet resets every conv layer of the real SqueezeNet once on a seeded imagenet-sample
// subset (16 images; 8 with -short; the benchmark runs 32 images × 3 trials), logs the sweep's cost
// against one clean pass, and checks a known answer: conv10 zeroed outputs softmax(relu(bias)).
func TestSqueezeNet(t *testing.T) {
	n := 16
	if testing.Short() {
		n = 8
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sq := newSqueezeNet(t, mem, n)
	ctx := context.Background()
	ref := sq.reference(t)
	if len(sq.layers) != 26 || ref.N != n || ref.K != 1000 || ref.Labelled != n {
		t.Fatalf("%d layers, reference over %d samples × %d classes (%d labelled); want 26, %d × 1000", len(sq.layers), ref.N, ref.K, ref.Labelled, n)
	}
	results, took := sq.sweepAll(t, ref, 1)
	logResults(t, ref, results, 1, took)
	for _, r := range results {
		if r.Criticality < 0 || r.Criticality > 100 || r.L1 < 0 || r.L1 > 2 || r.L2 < 0 || r.L2 > math.Sqrt2 ||
			r.NonFinite > 0 || r.Compared != n || r.Top1Original != float64(ref.Top1)/float64(n) {
			t.Errorf("%s: out of range or miscounted: %+v", r.Layer.Name, r)
		}
	}

	// Zero conv10 weights: pool10 = relu(conv10 bias) for every image (the bias is float16, exact in float32).
	conv10 := sq.layers[len(sq.layers)-1]
	bias, err := sq.model.Initializer(conv10.Bias)
	if err != nil {
		t.Fatal(err)
	}
	relu := make([]float32, len(bias.Float32))
	for i, b := range bias.Float32 {
		relu[i] = max(b, 0)
	}
	b := make([]float64, len(relu))
	infer.Softmax(relu, b)
	var cos float64
	for i := 0; i < n; i++ {
		c, _, _ := compare(ref.Probs[i*1000:(i+1)*1000], b)
		cos += c / float64(n)
	}
	res, err := Sweep(ctx, sq.rt, sq.imgs, ref, sq.model, conv10, values(t, map[string]any{"init": InitZeros}), 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Cosine-cos) > 1e-6 {
		t.Errorf("conv10 zeroed: cosine %.7f, by hand from the bias %.7f", res.Cosine, cos)
	}
	t.Logf("conv10 zeroed: criticality %.3f%% (by hand %.3f%%)", res.Criticality, (1-cos)*100)

	// Restoring gives the reference back exactly.
	again, err := Reference(ctx, sq.rt, sq.imgs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Probs, ref.Probs) {
		t.Error("the clean pass after the sweep differs from the first")
	}
}

// reference runs the clean pass twice and keeps the second (warm) pass's time.
func (sq *squeezeNet) reference(tb testing.TB) *Ref {
	tb.Helper()
	cold, err := Reference(context.Background(), sq.rt, sq.imgs)
	if err != nil {
		tb.Fatal(err)
	}
	warm, err := Reference(context.Background(), sq.rt, sq.imgs)
	if err != nil {
		tb.Fatal(err)
	}
	if !slices.Equal(cold.Probs, warm.Probs) {
		tb.Fatal("two clean passes differ")
	}
	return warm
}

// logResults logs the sweep's cost and each layer's numbers, most critical first.
func logResults(tb testing.TB, ref *Ref, results []*LayerResult, trials int, took time.Duration) {
	tb.Logf("clean pass over %d images: %.2f s; sweep of %d layers × %d trials: %.1f s = %.2f × (layers × trials × clean pass)",
		ref.N, ref.Seconds, len(results), trials, took.Seconds(), took.Seconds()/(float64(len(results)*trials)*ref.Seconds))
	tb.Logf("clean top-1 %d/%d, top-5 %d/%d", ref.Top1, ref.N, ref.Top5, ref.N)
	var mean float64
	for _, r := range results {
		mean += r.Criticality / float64(len(results))
		tb.Logf("%-22s index %2d depth %.2f  criticality %6.2f%%  cos %.4f  L1 %.3f  L2 %.3f  top-1 %.3f  top-5 %.3f  %.2f s",
			r.Layer.Name, r.Layer.Depth, r.Layer.RelDepth, r.Criticality, r.Cosine, r.L1, r.L2, r.Top1Reset, r.Top5Reset, r.Seconds)
	}
	byCrit := slices.Clone(results)
	slices.SortFunc(byCrit, func(a, b *LayerResult) int { return cmp.Compare(b.Criticality, a.Criticality) })
	var order []string
	for _, r := range byCrit {
		order = append(order, r.Layer.Name)
	}
	tb.Logf("model criticality %.2f%%; layers from most to least critical: %s", mean, strings.Join(order, " "))
}

// BenchmarkSqueezeNetSweep runs the full sweep (26 layers × 3 trials over 32 images) and reports
// its wall time relative to layers × trials clean passes, each layer's clean pass timed right
// after its trials so that load drifting on a shared machine affects both alike (1 = no overhead
// beyond inference), and the time the resets alone take (draw and SetOverrides, then restore).
func BenchmarkSqueezeNetSweep(b *testing.B) {
	const n, trials = 32, 3
	mem := memory.NewGoAllocator()
	sq := newSqueezeNet(b, mem, n)
	ref := sq.reference(b)
	ctx := context.Background()
	p := values(b, map[string]any{"trials": trials})
	b.ResetTimer()
	var sweep, clean, resets float64
	for i := 0; i < b.N; i++ {
		var results []*LayerResult
		var took time.Duration
		for _, l := range sq.layers {
			res, err := Sweep(ctx, sq.rt, sq.imgs, ref, sq.model, l, p, LayerSeed(1, l.Name))
			if err != nil {
				b.Fatal(err)
			}
			again, err := Reference(ctx, sq.rt, sq.imgs)
			if err != nil {
				b.Fatal(err)
			}
			results, took = append(results, res), took+time.Duration(res.Seconds*float64(time.Second))
			sweep, clean = sweep+res.Seconds, clean+trials*again.Seconds
		}
		logResults(b, ref, results, trials, took)
		start := time.Now()
		for _, l := range sq.layers {
			ts, err := tensorsOf(sq.model, l)
			if err != nil {
				b.Fatal(err)
			}
			for t := 0; t < trials; t++ {
				if err := sq.rt.SetOverrides(ctx, draw(l, ts, InitKaiming, rand.New(rand.NewPCG(1, uint64(t))))); err != nil {
					b.Fatal(err)
				}
			}
			if err := sq.rt.SetOverrides(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		resets += time.Since(start).Seconds()
	}
	b.ReportMetric(sweep/float64(b.N), "sweep-s/op")
	b.ReportMetric(clean/float64(b.N*len(sq.layers)*trials), "clean-pass-s/op")
	b.ReportMetric(resets/float64(b.N), "resets-s/op")
	b.ReportMetric(sweep/clean, "sweep/(layers·trials·clean)")
}
