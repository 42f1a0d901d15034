package criticality

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// The host's runtime client is what the stage runs against.
var _ Runtime = (*host.Runtime)(nil)

func TestRank(t *testing.T) {
	for _, tc := range []struct {
		logits []float32
		label  int32
		want   int
	}{
		{[]float32{0.1, 0.5, 0.3}, 1, 0},
		{[]float32{0.1, 0.5, 0.3}, 0, 2},
		{[]float32{0.2, 0.2, 0.2}, 0, 0}, // ties: the lowest index is the arg-max
		{[]float32{0.2, 0.2, 0.2}, 2, 2},
		{[]float32{0.4, 0.2, 0.4}, 2, 1},
	} {
		if got := sdk.Rank(tc.logits, tc.label); got != tc.want {
			t.Errorf("rank of %d in %v = %d, want %d", tc.label, tc.logits, got, tc.want)
		}
	}
}

// values checks raw parameters against Params.
func values(t testing.TB, raw map[string]any) params.Values {
	t.Helper()
	v, errs := params.Check(Params, raw)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return v
}

// openModel opens the model at path for the test's duration.
func openModel(t *testing.T, path string) *onnx.Model {
	t.Helper()
	m, err := onnx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// layerNames lists the layers' names.
func layerNames(ls []onnx.Layer) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func TestSelect(t *testing.T) {
	plain := openModel(t, newTiny(false).write(t))
	withBN := openModel(t, newTiny(true).write(t))
	for _, tc := range []struct {
		name        string
		model       *onnx.Model
		raw         map[string]any
		want        []string
		overridable []string
		err         string
	}{
		{name: "default", model: plain, want: []string{"conv", "fc"},
			overridable: []string{"conv.weight", "conv.bias", "fc.weight", "fc.bias"}},
		{name: "BatchNormalization left out by default", model: withBN, want: []string{"conv", "fc"}},
		{name: "batchnorm", model: withBN, raw: map[string]any{"batchnorm": true}, want: []string{"conv", "bn", "fc"},
			overridable: []string{"conv.weight", "conv.bias", "bn.scale", "bn.bias", "bn.mean", "bn.var", "fc.weight", "fc.bias"}},
		{name: "named", model: withBN, raw: map[string]any{"layers": []any{"fc", "bn"}}, want: []string{"bn", "fc"}},
		{name: "unknown name", model: plain, raw: map[string]any{"layers": []any{"fc", "conv9"}}, err: "no weighted layer named conv9"},
		{name: "bad trials", model: plain, raw: map[string]any{"trials": 0}, err: "trials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if raw == nil {
				raw = map[string]any{}
			}
			got, err := Select(tc.model, raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(layerNames(got), tc.want) {
				t.Errorf("layers %v, want %v", layerNames(got), tc.want)
			}
			if tc.overridable == nil {
				return
			}
			names, err := Overridable(tc.model, got)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, tc.overridable) {
				t.Errorf("overridable %v, want %v", names, tc.overridable)
			}
		})
	}
}

// floats is an override's values.
func floats(o sdk.Override) []float32 { return o.Values }

// TestDraw checks what a reset writes: PyTorch's bounds, reproducible per (seed, trial), and the
// deterministic resets.
func TestDraw(t *testing.T) {
	const n = 20000
	conv := onnx.Layer{Name: "c", OpType: "Conv", FanIn: 27}
	bn := onnx.Layer{Name: "b", OpType: batchNorm}
	convTs := []tensor{{name: "w", dims: []int64{n}, size: n, role: roleWeight}, {name: "b", dims: []int64{n}, size: n, role: roleBias}}
	bnTs := []tensor{{name: "s", size: 3, role: roleWeight}, {name: "b", size: 3, role: roleBias},
		{name: "m", size: 3, role: roleMean}, {name: "v", size: 3, role: roleVariance}}
	rng := func(seed, t uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, t)) }

	// Kaiming-uniform with a = √5 and the bias rule share the bound 1/√fan_in = 1/√27 ≈ 0.19245.
	bound := 1 / math.Sqrt(27)
	for i, o := range draw(conv, convTs, InitKaiming, rng(1, 0)) {
		v := floats(o)
		var sum, sq, maxAbs float64
		for _, x := range v {
			sum += float64(x)
			sq += float64(x) * float64(x)
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
		if maxAbs > bound || maxAbs < 0.999*bound {
			t.Errorf("tensor %d: max |w| %.6f, want just below the bound %.6f", i, maxAbs, bound)
		}
		if math.Abs(mean) > 4*bound/math.Sqrt(3*n) {
			t.Errorf("tensor %d: mean %.5f, want 0 within 4 standard errors", i, mean)
		}
		if want := bound * bound / 3; math.Abs(variance-want) > 0.03*want {
			t.Errorf("tensor %d: variance %.6f, want bound²/3 = %.6f within 3%%", i, variance, want)
		}
	}

	// Same seed and trial: the same draw; another trial or seed: another draw.
	a, b := draw(conv, convTs, InitKaiming, rng(7, 0)), draw(conv, convTs, InitKaiming, rng(7, 0))
	c, d := draw(conv, convTs, InitKaiming, rng(7, 1)), draw(conv, convTs, InitKaiming, rng(8, 0))
	if !slices.Equal(a[0].Values, b[0].Values) || !slices.Equal(a[1].Values, b[1].Values) {
		t.Error("the same (seed, trial) drew different weights")
	}
	if slices.Equal(a[0].Values, c[0].Values) || slices.Equal(a[0].Values, d[0].Values) {
		t.Error("another trial or seed drew the same weights")
	}
	if LayerSeed(1, "conv1") == LayerSeed(1, "conv2") || LayerSeed(1, "conv1") == LayerSeed(2, "conv1") {
		t.Error("LayerSeed does not separate layers or seeds")
	}

	for _, tc := range []struct {
		name  string
		layer onnx.Layer
		ts    []tensor
		init  string
		want  [][]float32
	}{
		{"zeros replaces the weight only", conv, []tensor{{name: "w", size: 2, role: roleWeight}, {name: "b", size: 1, role: roleBias}}, InitZeros,
			[][]float32{{0, 0}}},
		{"batchnorm to its initial state", bn, bnTs, InitKaiming, [][]float32{{1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}}},
		{"batchnorm zeros", bn, bnTs, InitZeros, [][]float32{{0, 0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !deterministic(tc.layer, tc.init) {
				t.Error("not marked deterministic")
			}
			got := draw(tc.layer, tc.ts, tc.init, rng(1, 0))
			if len(got) != len(tc.want) {
				t.Fatalf("%d overrides, want %d", len(got), len(tc.want))
			}
			for i, o := range got {
				if got := floats(o); !slices.Equal(got, tc.want[i]) {
					t.Errorf("%s: %v, want %v", o.Name, got, tc.want[i])
				}
			}
		})
	}
}

func TestSpill(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	imgs, labels := images(10)
	s := spillOf(t, mem, imgs, labels, 4)
	path := s.file.Name()
	if s.Rows() != 10 {
		t.Errorf("rows %d, want 10", s.Rows())
	}
	for pass := 0; pass < 2; pass++ {
		var ids []string
		var got []int32
		var pix []float32
		err := s.Each(context.Background(), func(rec arrow.RecordBatch) error {
			var names []string
			for _, f := range rec.Schema().Fields() {
				names = append(names, f.Name)
			}
			if !slices.Equal(names, spillColumns) {
				t.Errorf("columns %v, want %v", names, spillColumns)
			}
			id, err := arrowio.StringColumn(rec, arrowio.ColSampleID)
			if err != nil {
				return err
			}
			y, err := arrowio.Int32Column(rec, arrowio.ColLabel)
			if err != nil {
				return err
			}
			img, err := arrowio.TensorColumn(rec, arrowio.ColImage)
			if err != nil {
				return err
			}
			ids, got, pix = append(ids, id...), append(got, y...), append(pix, img.Values()...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 10 || ids[0] != "s0000" || ids[9] != "s0009" || !slices.Equal(got, labels) || !slices.Equal(pix, slices.Concat(imgs...)) {
			t.Errorf("pass %d: read back %v %v and %d pixels, not what was written", pass, ids, got, len(pix))
		}
	}
	stop := errors.New("stop")
	if err := s.Each(context.Background(), func(arrow.RecordBatch) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Each returned %v, want fn's error", err)
	}
	rec := sampleBatch(t, mem, []int{3, side, side}, imgs[:1], labels[:1], 0)
	if err := s.Write(rec); err == nil {
		t.Error("a write after the first read was accepted")
	}
	rec.Release()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("spill file %s still there after Close (%v)", path, err)
	}
	if err := s.Each(context.Background(), func(arrow.RecordBatch) error { return nil }); err == nil {
		t.Error("Each after Close succeeded")
	}
}

// expected computes, from the Go forward pass, the mean cosine, L1 and L2 between the trained
// model's and reset model's softmax outputs, and the reset model's top-1 hits.
func expected(trained, reset *tiny, imgs [][]float32, labels []int32) (cos, l1, l2 float64, top1 int) {
	for i, im := range imgs {
		a, b := softmax64(trained.forward(im)), softmax64(reset.forward(im))
		var dot, na, nb, s1, s2 float64
		for j := range a {
			dot, na, nb = dot+a[j]*b[j], na+a[j]*a[j], nb+b[j]*b[j]
			s1 += math.Abs(a[j] - b[j])
			s2 += (a[j] - b[j]) * (a[j] - b[j])
		}
		cos, l1, l2 = cos+dot/math.Sqrt(na*nb), l1+s1, l2+math.Sqrt(s2)
		if slices.Index(b, slices.Max(b)) == int(labels[i]) {
			top1++
		}
	}
	n := float64(len(imgs))
	return cos / n, l1 / n, l2 / n, top1
}

// TestTinySweeps runs resets with known answers through the real ONNX Runtime plugin.
func TestTinySweeps(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	imgs, labels := images(12)
	for _, withBN := range []bool{false, true} {
		trained := newTiny(withBN)
		path := trained.write(t)
		m := openModel(t, path)
		all, err := Select(m, values(t, map[string]any{"batchnorm": true}))
		if err != nil {
			t.Fatal(err)
		}
		names, err := Overridable(m, all)
		if err != nil {
			t.Fatal(err)
		}
		rt := startRuntime(t, tinyLoad(path, names), mem)
		s := spillOf(t, mem, imgs, labels, 5) // batches of 5, 5 and 2
		defer s.Close()
		ref, err := Reference(ctx, rt, s)
		if err != nil {
			t.Fatal(err)
		}
		// The clean pass matches the Go forward pass.
		top1 := 0
		for i, im := range imgs {
			p := softmax64(trained.forward(im))
			for j, v := range p {
				if math.Abs(float64(ref.Probs[i*classes+j])-v) > 1e-5 {
					t.Fatalf("bn %v: sample %d class %d: clean probability %v, Go forward %v", withBN, i, j, ref.Probs[i*classes+j], v)
				}
			}
			if slices.Index(p, slices.Max(p)) == int(labels[i]) {
				top1++
			}
		}
		if ref.N != 12 || ref.K != classes || ref.Labelled != 12 || ref.Top1 != top1 || ref.Top5 != 12 {
			t.Fatalf("bn %v: reference N %d K %d labelled %d top1 %d top5 %d; want 12 5 12 %d 12", withBN, ref.N, ref.K, ref.Labelled, ref.Top1, ref.Top5, top1)
		}
		layer := func(name string) onnx.Layer {
			return all[slices.IndexFunc(all, func(l onnx.Layer) bool { return l.Name == name })]
		}

		if !withBN {
			t.Run("zeros in the head give softmax(bias)", func(t *testing.T) {
				res, err := Sweep(ctx, rt, s, ref, m, layer("fc"), values(t, map[string]any{"init": "zeros"}), 1)
				if err != nil {
					t.Fatal(err)
				}
				reset := newTiny(false)
				reset.fcW = make([]float32, len(reset.fcW)) // logits = fc bias for every image
				checkResult(t, res, trained, reset, imgs, labels, ref)
				// argmax(bias) = class 2: the reset model is right on the 2 images labelled 2.
				if res.Top1Reset != 2.0/12 || res.Top5Reset != 1 {
					t.Errorf("reset top-1 %v top-5 %v, want 2/12 and 1", res.Top1Reset, res.Top5Reset)
				}
			})
			t.Run("identity reset", func(t *testing.T) {
				var ov []sdk.Override
				for _, ts := range must(tensorsOf(m, layer("conv"))) {
					w, err := m.Initializer(ts.name)
					if err != nil {
						t.Fatal(err)
					}
					ov = append(ov, override(ts, w.Float32))
				}
				res, err := sweep(ctx, rt, s, ref, layer("conv"), 2, func(int) []sdk.Override { return ov })
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(res.Cosine-1) > 1e-15 || res.Criticality > 1e-13 || res.L1 != 0 || res.L2 != 0 || res.Recovered != 1 {
					t.Errorf("identity reset: cosine 1%+g, criticality %g, L1 %g, L2 %g, recovered %v; want 1, 0, 0, 0, 1",
						res.Cosine-1, res.Criticality, res.L1, res.L2, res.Recovered)
				}
			})
			t.Run("seeds", func(t *testing.T) {
				p := values(t, map[string]any{"trials": 2})
				a, err := Sweep(ctx, rt, s, ref, m, layer("conv"), p, 7)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Sweep(ctx, rt, s, ref, m, layer("conv"), p, 7)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Sweep(ctx, rt, s, ref, m, layer("conv"), p, 8)
				if err != nil {
					t.Fatal(err)
				}
				if a.Trials != 2 || a.Compared != 24 {
					t.Errorf("trials %d compared %d, want 2 and 24", a.Trials, a.Compared)
				}
				if a.Cosine != b.Cosine || a.L1 != b.L1 || a.Top1Reset != b.Top1Reset {
					t.Errorf("same seed: cosine %v vs %v, L1 %v vs %v", a.Cosine, b.Cosine, a.L1, b.L1)
				}
				if a.Cosine == c.Cosine {
					t.Errorf("seeds 7 and 8 gave the same cosine %v", a.Cosine)
				}
				if a.Criticality <= 0 || a.Criticality > 100 {
					t.Errorf("criticality %v outside (0, 100]", a.Criticality)
				}
			})
		} else {
			t.Run("batchnorm reset to its initial state", func(t *testing.T) {
				res, err := Sweep(ctx, rt, s, ref, m, layer("bn"), values(t, nil), 1)
				if err != nil {
					t.Fatal(err)
				}
				reset := newTiny(true)
				reset.bn = &bnParams{scale: []float32{1, 1, 1, 1}, bias: make([]float32, filters), mean: make([]float32, filters),
					variance: []float32{1, 1, 1, 1}}
				checkResult(t, res, trained, reset, imgs, labels, ref)
			})
		}
		// Every sweep restored the trained weights: the clean pass comes back bit for bit.
		again, err := Reference(ctx, rt, s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(again.Probs, ref.Probs) {
			t.Errorf("bn %v: the clean pass after the sweeps differs from the first", withBN)
		}
	}
}

// checkResult compares a deterministic sweep's result with the Go forward passes.
func checkResult(t *testing.T, res *LayerResult, trained, reset *tiny, imgs [][]float32, labels []int32, ref *Ref) {
	t.Helper()
	cos, l1, l2, top1 := expected(trained, reset, imgs, labels)
	if res.Trials != 1 || res.Compared != len(imgs) {
		t.Errorf("trials %d compared %d; a deterministic reset runs once over %d samples", res.Trials, res.Compared, len(imgs))
	}
	if math.Abs(res.Cosine-cos) > 1e-5 || math.Abs(res.L1-l1) > 1e-5 || math.Abs(res.L2-l2) > 1e-5 {
		t.Errorf("cosine %.7f L1 %.7f L2 %.7f; by hand %.7f %.7f %.7f", res.Cosine, res.L1, res.L2, cos, l1, l2)
	}
	if math.Abs(res.Criticality-(1-cos)*100) > 1e-3 {
		t.Errorf("criticality %.5f, by hand %.5f", res.Criticality, (1-cos)*100)
	}
	if res.Top1Reset != float64(top1)/float64(len(imgs)) {
		t.Errorf("reset top-1 %v, by hand %d/%d", res.Top1Reset, top1, len(imgs))
	}
	if want := res.Top1Reset / (float64(ref.Top1) / float64(ref.Labelled)); res.Recovered != want {
		t.Errorf("recovered %v, want %v", res.Recovered, want)
	}
}

// must returns v, panicking on err (for values a test built itself).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRows(t *testing.T) {
	layer := onnx.Layer{Name: "block,1=conv", OpType: "Conv", Depth: 3, RelDepth: 0.375}
	for _, tc := range []struct {
		name string
		res  LayerResult
		want map[string]float64
		n    map[string]int64
	}{
		{"defined", LayerResult{Layer: layer, Trials: 3, Samples: 10, Labelled: 8, Compared: 30, Cosine: 0.9, L1: 0.2, L2: 0.1,
			Criticality: 10, Top1Reset: 0.25, Top5Reset: 0.5, Top1Original: 0.5, Top5Original: 0.75, Recovered: 0.5, Seconds: 2},
			map[string]float64{"criticality": 10, "cosine": 0.9, "l1": 0.2, "l2": 0.1, "top1_reset": 0.25, "top5_reset": 0.5,
				"top1_original": 0.5, "top5_original": 0.75, "recovered_accuracy": 0.5},
			map[string]int64{"criticality": 30, "top1_reset": 24, "top1_original": 8}},
		{"undefined", LayerResult{Layer: layer, Trials: 1, Samples: 4, Compared: 3, NonFinite: 1, Cosine: 0.5, Criticality: 50,
			Top1Reset: math.NaN(), Top5Reset: math.NaN(), Top1Original: math.NaN(), Top5Original: math.NaN(), Recovered: math.NaN(), Seconds: 1},
			map[string]float64{"criticality": 50, "cosine": 0.5, "l1": 0, "l2": 0, "nonfinite_outputs": 1,
				"recovered_accuracy_undefined": 1},
			map[string]int64{"criticality": 3, "nonfinite_outputs": 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := tc.res.Rows()
			got := map[string]float64{}
			for _, r := range rows {
				if r.Group != "layer=block_1_conv,op=Conv,index=3,depth=0.3750" || r.Model != "" || r.Stage != "" {
					t.Errorf("row %+v: want group layer=block_1_conv,op=Conv,index=3,depth=0.3750 and no model or stage", r)
				}
				if want, ok := tc.n[r.Metric]; ok && r.N != want {
					t.Errorf("%s: n %d, want %d", r.Metric, r.N, want)
				}
				got[r.Metric] = r.Value
			}
			if len(got) != len(tc.want) {
				t.Errorf("metrics %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
	rows := []arrowio.Result{
		{Model: "a", Stage: "crit", Metric: "criticality", Group: "layer=x", Value: 10},
		{Model: "a", Stage: "crit", Metric: "criticality", Group: "layer=y", Value: 30},
		{Model: "a", Stage: "crit", Metric: "cosine", Group: "layer=y", Value: 0.7},
		{Model: "b", Stage: "crit", Metric: "criticality", Group: "layer=x", Value: 5},
	}
	want := []arrowio.Result{
		{Model: "a", Stage: "crit", Metric: "criticality", Value: 20, N: 2},
		{Model: "a", Stage: "crit", Metric: "criticality_max", Value: 30, N: 2},
		{Model: "a", Stage: "crit", Metric: "layers", Value: 2, N: 2},
		{Model: "b", Stage: "crit", Metric: "criticality", Value: 5, N: 1},
		{Model: "b", Stage: "crit", Metric: "criticality_max", Value: 5, N: 1},
		{Model: "b", Stage: "crit", Metric: "layers", Value: 1, N: 1},
	}
	if got := ModelRows(rows); !slices.Equal(got, want) {
		t.Errorf("model rows %+v, want %+v", got, want)
	}
}
