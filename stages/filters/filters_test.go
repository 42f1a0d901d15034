package filters

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// kernels builds a Conv layer's kernels from rows of 9 values (c_out·c_in rows).
func kernels(cout, cin int, relDepth float64, rows [][9]float32) *onnx.Kernels {
	k := &onnx.Kernels{Layer: onnx.Layer{Name: "conv", OpType: "Conv", WeightShape: []int64{int64(cout), int64(cin), 3, 3},
		RelDepth: relDepth}, COut: int64(cout), CIn: int64(cin)}
	for _, r := range rows {
		k.Values = append(k.Values, r[:]...)
	}
	return k
}

// unit is the unit filter e_i scaled by s.
func unit(i int, s float32) (f [9]float32) {
	f[i] = s
	return f
}

// gaussian returns n filters of independent standard normal values.
func gaussian(n int, seed uint64) [][9]float32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([][9]float32, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

func TestVarianceEntropy(t *testing.T) {
	var plusMinus, units, twoAxes [][9]float32
	for i := 0; i < 9; i++ {
		plusMinus = append(plusMinus, unit(i, 1), unit(i, -1))
		units = append(units, unit(i, 2))
	}
	for _, s := range []float32{1, -1, 3, -3} {
		twoAxes = append(twoAxes, unit(0, s), unit(4, s))
	}
	same := slices.Repeat([][9]float32{{0.1, -0.2, 0.3, 0, 0.5, -0.6, 0.7, 0.8, -0.9}}, 12)
	for _, tc := range []struct {
		name string
		rows [][9]float32
		keep []bool
		want float64
		tol  float64
	}{
		{"all identical: the centred matrix is zero", same, nil, 0, 0},
		{"one filter", same[:1], nil, 0, 0},
		{"±e_i: isotropic", plusMinus, nil, math.Log10(9), 1e-12},
		{"the 9 unit filters: rank 8 after centring", units, nil, math.Log10(8), 1e-12},
		{"two axes with equal variance", twoAxes, nil, math.Log10(2), 1e-12},
		{"20000 Gaussian filters", gaussian(20000, 1), nil, math.Log10(9), 1e-3},
		{"only the +e_i kept", plusMinus, []bool{true, false, true, false, true, false, true, false, true, false, true, false, true, false, true, false, true, false},
			math.Log10(8), 1e-12},
		{"nothing kept", units, make([]bool, 9), math.NaN(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := VarianceEntropy(kernels(len(tc.rows), 1, 0, tc.rows), tc.keep)
			if math.IsNaN(tc.want) != math.IsNaN(got) || math.Abs(got-tc.want) > tc.tol {
				t.Errorf("VE %.12f, want %.12f ± %g", got, tc.want, tc.tol)
			}
		})
	}
}

func TestSparsity(t *testing.T) {
	// 4 output × 5 input channels; max |W| = 2, so the threshold is 0.02 at 1 %: 7 filters are
	// sparse, one is not only because one value sits exactly at the threshold (float32 0.02, as in torch).
	rows := make([][9]float32, 20)
	sparse := []int{0, 3, 4, 9, 11, 15, 19}
	for i := range rows {
		rows[i] = [9]float32{0.5, -0.3, 0.1, 0.2, 1, 0.05, -0.4, 0.3, 0.2}
	}
	rows[7][4] = -2
	for _, i := range sparse {
		rows[i] = [9]float32{0.019, -0.0199, 0, 0.01, -0.015, 0, 0.001, 0, -0.019}
	}
	rows[12] = [9]float32{0.019, 0.02, 0, 0, 0, 0, 0, 0, 0}
	k := kernels(4, 5, 0.5, rows)
	mask := SparseMask(k, 0.01)
	var got []int
	for i, s := range mask {
		if s {
			got = append(got, i)
		}
	}
	if !slices.Equal(got, sparse) {
		t.Errorf("sparse filters %v, want %v", got, sparse)
	}
	s := LayerStatsOf(k, 0.01)
	if s.Filters != 20 || s.Sparse != 7 || s.Sparsity != 0.35 || s.OutChannels != 4 {
		t.Errorf("stats %+v: want 20 filters, 7 sparse (0.35), 4 output channels", s)
	}
	var dense [][9]float32
	for i, r := range rows {
		if !mask[i] {
			dense = append(dense, r)
		}
	}
	if want := VarianceEntropy(kernels(len(dense), 1, 0, dense), nil); s.NonSparseVarianceEntropy != want {
		t.Errorf("non-sparse VE %v, VE of the 13 dense filters alone %v", s.NonSparseVarianceEntropy, want)
	}
	// At 60 % (1.2) only the filter holding -2 is not sparse.
	if got := LayerStatsOf(k, 0.6).Sparse; got != 19 {
		t.Errorf("at 60 %%: %d sparse, want 19", got)
	}
	// A layer of zeros is all sparse (torchconvquality's threshold 1 for max |W| = 0).
	zeros := LayerStatsOf(kernels(2, 3, 0, make([][9]float32, 6)), 0.01)
	if zeros.Sparsity != 1 || !math.IsNaN(zeros.NonSparseVarianceEntropy) || zeros.VarianceEntropy != 0 {
		t.Errorf("zero layer: %+v; want sparsity 1, VE 0, non-sparse VE undefined", zeros)
	}
	rows0 := map[string]arrowio.Result{}
	for _, r := range zeros.Rows() {
		rows0[r.Metric] = r
	}
	if _, ok := rows0[MetricVarianceEntropyNS]; ok || rows0[MetricVarianceEntropyNSUndef].Value != 1 || rows0[MetricOrthogonality].Value != 0 {
		t.Errorf("zero layer rows %v: want variance_entropy_nonsparse_undefined = 1 and orthogonality 0 (zero rows: |0 − I|)", rows0)
	}
}

func TestOrthogonality(t *testing.T) {
	// Output channels of 2 input channels (18 values): rows built from unit filters.
	row := func(a, b [9]float32) [][9]float32 { return [][9]float32{a, b} }
	for _, tc := range []struct {
		name string
		cout int
		rows [][9]float32
		want float64
	}{
		{"orthonormal after scaling", 3, slices.Concat(row(unit(0, 2), unit(1, 0)), row(unit(2, 0), unit(5, -3)), row(unit(4, 0.5), unit(8, 0))), 1},
		{"identical", 3, slices.Concat(row(unit(0, 1), unit(1, 1)), row(unit(0, 2), unit(1, 2)), row(unit(0, 3), unit(1, 3))), 0},
		{"opposite", 2, slices.Concat(row(unit(3, 1), unit(1, 0)), row(unit(3, -1), unit(1, 0))), 0},
		// Rows (1,0) and (1,1)/√2: |cos| = 1/√2 off the diagonal.
		{"45 degrees", 2, slices.Concat(row(unit(0, 1), unit(1, 0)), row(unit(0, 1), unit(1, 1))), 1 - 1/math.Sqrt2},
		// A zero row stays zero: |0 − 1| on its diagonal counts, c = 1/2.
		{"zero row", 2, slices.Concat(row(unit(0, 1), unit(1, 0)), row(unit(0, 0), unit(1, 0))), 0.5},
		{"one output channel", 1, row(unit(0, 1), unit(1, 0)), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Orthogonality(kernels(tc.cout, 2, 0, tc.rows))
			if math.IsNaN(tc.want) != math.IsNaN(got) || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("orthogonality %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSymmetricKL(t *testing.T) {
	p, q := []float64{0.5, 0.5}, []float64{0.9, 0.1}
	want := 0.5*math.Log(0.5/0.9) + 0.5*math.Log(0.5/0.1) + 0.9*math.Log(0.9/0.5) + 0.1*math.Log(0.1/0.5)
	if got := symmetricKL(p, q); math.Abs(got-want) > 1e-15 || symmetricKL(q, p) != got {
		t.Errorf("D = %v (reversed %v), want %v both ways", got, symmetricKL(q, p), want)
	}
	if got := symmetricKL(q, q); got != 0 {
		t.Errorf("D of identical histograms %v, want 0", got)
	}
}

// values checks raw parameters against Params.
func values(t *testing.T, raw map[string]any) params.Values {
	t.Helper()
	v, errs := params.Check(Params, raw)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return v
}

// TestBasisOneAxis: filters along one direction give that direction as the first component with
// all the variance, and coefficients ±‖d‖ once scaled by max |w|.
func TestBasisOneAxis(t *testing.T) {
	var rows [][9]float32
	for _, s := range []float32{0.3, -0.3, 2, -2, 0.01, -0.01} {
		rows = append(rows, [9]float32{0.6 * s, 0.8 * s})
	}
	k := kernels(len(rows), 1, 0, rows)
	b := NewBasis()
	if err := b.Measure(k); err == nil {
		t.Error("Measure before Finish accepted")
	}
	if err := b.Add(k); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(k); err == nil {
		t.Error("Add after Finish accepted")
	}
	c0 := b.Component(0)
	want := []float64{0.6, 0.8, 0, 0, 0, 0, 0, 0, 0}
	for j := range want {
		if math.Abs(c0[j]-want[j]) > 1e-7 { // the filters are float32
			t.Fatalf("first component %v, want %v", c0, want)
		}
	}
	ex := b.Explained()
	if math.Abs(ex[0]-1) > 1e-12 || slices.Max(ex[1:]) > 1e-12 {
		t.Errorf("explained variance %v, want [1 0 …]", ex)
	}
	if err := b.Measure(k); err != nil {
		t.Fatal(err)
	}
	// Scaled filters are ±(0.75, 1): coefficients ±1.25 on the first component, 0 elsewhere.
	if lo, hi := b.Range(); math.Abs(lo+1.25) > 1e-7 || math.Abs(hi-1.25) > 1e-7 {
		t.Errorf("range [%v, %v], want [-1.25, 1.25]", lo, hi)
	}
	rows0 := b.Rows()
	if len(rows0) != 9 || rows0[0].Group != "component=0" || rows0[0].Metric != MetricExplainedVariance || rows0[0].N != 6 {
		t.Errorf("basis rows %v", rows0)
	}
	// Identical filters leave no direction to fit.
	flat := NewBasis()
	flat.Add(kernels(3, 1, 0, slices.Repeat([][9]float32{unit(2, 1)}, 3)))
	if err := flat.Finish(); err == nil {
		t.Error("a basis of identical filters was fitted")
	}
}

func TestHistograms(t *testing.T) {
	// Models a and b hold the same filters, c others; layers at relative depth 0, 0.5 and 1.
	layer := func(seed uint64, depth float64, scale float32) *onnx.Kernels {
		rows := gaussian(300, seed)
		for i := range rows {
			rows[i][4] *= scale // c's filters peak in the centre
		}
		return kernels(30, 10, depth, rows)
	}
	models := map[string][]*onnx.Kernels{
		"a": {layer(1, 0, 1), layer(2, 0.5, 1), layer(3, 1, 1)},
		"b": {layer(1, 0, 1), layer(2, 0.5, 1), layer(3, 1, 1)},
		"c": {layer(4, 0, 5), layer(5, 0.5, 5), layer(6, 1, 5)},
	}
	names := []string{"a", "b", "c"}
	b := NewBasis()
	for _, m := range names {
		for _, k := range models[m] {
			b.Add(k)
		}
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHistograms(b, values(t, nil)); err == nil {
		t.Error("histograms built before Measure")
	}
	b.Measure(kernels(1, 1, 0, make([][9]float32, 1))) // the range of one zero filter: a point
	h, err := NewHistograms(b, values(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Add("c", models["c"][0]); err == nil {
		t.Error("filters outside the measured range were counted")
	}
	div := map[[2]string]float64{}
	for _, weights := range []string{WeightsExplained, WeightsUniform} {
		b := NewBasis()
		for _, m := range names {
			for _, k := range models[m] {
				b.Add(k)
			}
		}
		b.Finish()
		for _, m := range names {
			for _, k := range models[m] {
				b.Measure(k)
			}
		}
		h, err := NewHistograms(b, values(t, map[string]any{"weights": weights}))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range names {
			for _, k := range models[m] {
				if err := h.Add(m, k); err != nil {
					t.Fatal(err)
				}
			}
		}
		groups := 0
		for _, r := range h.Rows() {
			g, err := arrowio.ParseGroup(r.Group)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case r.Metric == MetricDivergence && g["other"] != "":
				div[[2]string{weights + r.Model, g["other"]}] = r.Value
				if r.N != 900 {
					t.Errorf("%s vs %s: n %d, want 900 filters", r.Model, g["other"], r.N)
				}
			case r.Metric == MetricDivergence && r.Model == "":
				groups++
				if (g["depth_group"] == g["other_group"]) != (r.Value == 0) || r.N != 900 {
					t.Errorf("pooled depth groups %s: %v (n %d); want 0 exactly on the diagonal, n 900", r.Group, r.Value, r.N)
				}
			}
		}
		if groups != 9 {
			t.Errorf("%d pooled depth-group rows, want 3×3", groups)
		}
		w := weights
		if div[[2]string{w + "a", "b"}] != 0 || div[[2]string{w + "a", "a"}] != 0 {
			t.Errorf("%s: identical filters diverge: a–b %v, a–a %v", w, div[[2]string{w + "a", "b"}], div[[2]string{w + "a", "a"}])
		}
		if ac, ca := div[[2]string{w + "a", "c"}], div[[2]string{w + "c", "a"}]; ac <= 0 || ac != ca {
			t.Errorf("%s: D(a,c) %v, D(c,a) %v; want positive and symmetric", w, ac, ca)
		}
	}
	if div[[2]string{"explained" + "a", "c"}] == div[[2]string{"uniform" + "a", "c"}] {
		t.Error("explained and uniform weights gave the same divergence")
	}
}

func TestBinsAndDensity(t *testing.T) {
	b := NewBasis()
	b.fitted, b.measured, b.lo, b.hi = true, 1, 0, 4
	h, err := NewHistograms(b, values(t, map[string]any{"bins": 4}))
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range map[float64]int{0: 0, 0.999: 0, 1: 1, 3.5: 3, 4: 3, -0.1: -1, 4.1: -1} {
		if got := h.bin(x); got != want {
			t.Errorf("bin(%v) = %d, want %d (numpy: half-open bins, the last closed)", x, got, want)
		}
	}
	// Counts 2, 2, 0, 0 of unit width: density 0.5, 0.5, then eps, renormalised.
	hh := newHist(4)
	hh.n = 4
	hh.counts[0] = []int64{2, 2, 0, 0}
	p := h.distribution(hh)[0]
	s := 1 + 2*float32Eps
	if want := []float64{0.5 / s, 0.5 / s, float32Eps / s, float32Eps / s}; !slices.Equal(p, want) {
		t.Errorf("distribution %v, want %v", p, want)
	}
}

func TestKernelsRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var rows [][9]float32
	for i := 0; i < 6; i++ {
		rows = append(rows, [9]float32{float32(i), 1, 2, 3, 4, 5, 6, 7, float32(-i)})
	}
	k := kernels(2, 3, 0.25, rows)
	k.Layer.Depth = 4
	rec, err := KernelsRecord(mem, "resnet", k.Layer, k)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 6 || !rec.Schema().Equal(KernelsSchema) {
		t.Fatalf("%d rows, schema %s", rec.NumRows(), rec.Schema())
	}
	models, _ := arrowio.StringColumn(rec, arrowio.ColModel)
	out, _ := arrowio.Int32Column(rec, ColOutChannel)
	in, _ := arrowio.Int32Column(rec, ColInChannel)
	if models[5] != "resnet" || !slices.Equal(out, []int32{0, 0, 0, 1, 1, 1}) || !slices.Equal(in, []int32{0, 1, 2, 0, 1, 2}) {
		t.Errorf("model %v, out %v, in %v", models, out, in)
	}
	w0 := rec.Column(7).(*array.Float32).Float32Values()
	w8 := rec.Column(15).(*array.Float32).Float32Values()
	if !slices.Equal(w0, []float32{0, 1, 2, 3, 4, 5}) || !slices.Equal(w8, []float32{0, -1, -2, -3, -4, -5}) {
		t.Errorf("w0 %v w8 %v", w0, w8)
	}
	if d := rec.Column(4).(*array.Float64).Value(0); d != 0.25 || rec.Column(3).(*array.Int32).Value(0) != 4 ||
		rec.Column(1).(*array.String).Value(0) != "conv" {
		t.Errorf("layer metadata: depth %v", d)
	}
}
