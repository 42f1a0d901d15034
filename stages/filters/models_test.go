package filters

import (
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// svdEntropy is the variance entropy from an SVD of the centred n × 9 matrix, the reference's way.
func svdEntropy(t *testing.T, k *onnx.Kernels) float64 {
	t.Helper()
	n := k.Rows()
	var mean [9]float64
	for r := 0; r < n; r++ {
		for j, v := range k.Row(r) {
			mean[j] += float64(v) / float64(n)
		}
	}
	x := mat.NewDense(n, 9, nil)
	for r := 0; r < n; r++ {
		for j, v := range k.Row(r) {
			x.Set(r, j, float64(v)-mean[j])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDNone) {
		t.Fatal("SVD did not converge")
	}
	var vals []float64
	for _, s := range svd.Values(nil) {
		vals = append(vals, s*s)
	}
	return entropy10(vals)
}

// openModel opens an ONNX model for the test's duration.
func openModel(t *testing.T, path string) *onnx.Model {
	t.Helper()
	m, err := onnx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestSqueezeNet: the 9 3×3 conv layers of the real SqueezeNet 1.1, their statistics within
// range and the variance entropy equal to an SVD's; then its filter distribution against a
// PyTorch-default random initialisation of the same layers.
func TestSqueezeNet(t *testing.T) {
	m := openModel(t, filepath.Join(testenv.SharedData(t, "models", "squeezenet1.1-fp16"), "model.onnx"))
	stats, err := Stats(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, s := range stats {
		counts = append(counts, s.Filters)
		t.Logf("%-20s index %2d depth %.2f  filters %5d  sparsity %.4f  VE %.4f  VE non-sparse %.4f  orthogonality %.4f",
			s.Layer.Name, s.Layer.Depth, s.Layer.RelDepth, s.Filters, s.Sparsity, s.VarianceEntropy, s.NonSparseVarianceEntropy, s.Orthogonality)
		if s.Sparsity < 0 || s.Sparsity > 1 || s.VarianceEntropy <= 0 || s.VarianceEntropy > math.Log10(9) ||
			s.NonSparseVarianceEntropy < 0 || s.NonSparseVarianceEntropy > math.Log10(9) || s.Orthogonality < 0 || s.Orthogonality > 1 {
			t.Errorf("%s: a statistic out of its range", s.Layer.Name)
		}
		if s.Sparse == 0 && s.NonSparseVarianceEntropy != s.VarianceEntropy {
			t.Errorf("%s: no sparse filter, yet VE %v and non-sparse VE %v differ", s.Layer.Name, s.VarianceEntropy, s.NonSparseVarianceEntropy)
		}
		k, err := m.Kernels3x3(s.Layer)
		if err != nil {
			t.Fatal(err)
		}
		if want := svdEntropy(t, k); math.Abs(s.VarianceEntropy-want) > 1e-9 {
			t.Errorf("%s: VE %.12f, by SVD %.12f", s.Layer.Name, s.VarianceEntropy, want)
		}
		if rows := s.Rows(); len(rows) != 5 || !strings.HasPrefix(rows[0].Group, "layer="+s.Layer.Name+",op=Conv,index=") {
			t.Errorf("%s: rows %v", s.Layer.Name, rows)
		}
	}
	// conv1 (64×3) and the expand3x3 of fire2..fire9.
	if want := []int{192, 1024, 1024, 4096, 4096, 9216, 9216, 16384, 16384}; !slices.Equal(counts, want) {
		t.Errorf("filters per 3×3 layer %v, want %v", counts, want)
	}

	// The same layers freshly initialised, as a second model.
	rng := rand.New(rand.NewPCG(1, 0))
	var random []*onnx.Kernels
	for _, l := range Layers3x3(m) {
		k, _ := m.Kernels3x3(l)
		random = append(random, &onnx.Kernels{Layer: l, COut: k.COut, CIn: k.CIn, Values: onnx.KaimingUniform(rng, l.FanIn, len(k.Values))})
	}
	feed := func(fn func(model string, k *onnx.Kernels) error) {
		for _, l := range Layers3x3(m) {
			k, _ := m.Kernels3x3(l)
			if err := fn("squeezenet", k); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range random {
			if err := fn("random", k); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := NewBasis()
	feed(func(_ string, k *onnx.Kernels) error { return b.Add(k) })
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	feed(func(_ string, k *onnx.Kernels) error { return b.Measure(k) })
	h, err := NewHistograms(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	feed(h.Add)
	ex := b.Explained()
	var sum float64
	for i, r := range ex {
		sum += r
		if i > 0 && r > ex[i-1] {
			t.Errorf("explained variance %v is not descending", ex)
		}
	}
	lo, hi := b.Range()
	t.Logf("explained variance ratios %.4f, coefficient range [%.3f, %.3f], %d filters", ex, lo, hi, b.Filters())
	if math.Abs(sum-1) > 1e-12 || b.Filters() != 2*61632 {
		t.Errorf("explained variance sums to %v over %d filters; want 1 over %d", sum, b.Filters(), 2*61632)
	}
	div := divergences(t, h.Rows())
	t.Logf("divergences (model|other, pooled depth groups g<i>|g<j>): %v", div)
	checkDivergences(t, div)
}

// divergences maps the divergence rows to "model|other" (models) and "g<i>|g<j>" (pooled depth groups).
func divergences(t *testing.T, rows []arrowio.Result) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range rows {
		if r.Metric != MetricDivergence {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case g["other"] != "":
			out[r.Model+"|"+g["other"]] = r.Value
		case r.Model == "":
			out["g"+g["depth_group"]+"|g"+g["other_group"]] = r.Value
		}
	}
	return out
}

// checkDivergences wants 0 exactly on the diagonal, positive and symmetric values off it.
func checkDivergences(t *testing.T, div map[string]float64) {
	t.Helper()
	for k, v := range div {
		a, o, _ := strings.Cut(k, "|")
		if (a == o) != (v == 0) || v < 0 || v != div[o+"|"+a] {
			t.Errorf("divergence %s = %v: want 0 exactly on the diagonal, positive and symmetric off it", k, v)
		}
	}
}

// TestZoo computes the statistics and the divergence matrix of the zoo's models when they exist.
func TestZoo(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testenv.Root(t), "zoo", "models", "*.onnx"))
	if len(paths) == 0 {
		t.Skip("no zoo/models/*.onnx in this checkout")
	}
	b := NewBasis()
	each := func(fn func(name string, m *onnx.Model, k *onnx.Kernels) error) {
		for _, p := range paths {
			m := openModel(t, p)
			name := strings.TrimSuffix(filepath.Base(p), ".onnx")
			for _, l := range Layers3x3(m) {
				k, err := m.Kernels3x3(l)
				if err != nil {
					t.Fatal(err)
				}
				if err := fn(name, m, k); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	each(func(name string, m *onnx.Model, k *onnx.Kernels) error {
		s := LayerStatsOf(k, 0.01)
		t.Logf("%-24s %-12s depth %.2f filters %6d sparsity %.4f VE %.4f orthogonality %.4f",
			name, k.Layer.Name, k.Layer.RelDepth, s.Filters, s.Sparsity, s.VarianceEntropy, s.Orthogonality)
		return b.Add(k)
	})
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	each(func(_ string, _ *onnx.Model, k *onnx.Kernels) error { return b.Measure(k) })
	h, err := NewHistograms(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	each(func(name string, _ *onnx.Model, k *onnx.Kernels) error { return h.Add(name, k) })
	div := divergences(t, h.Rows())
	for _, k := range slices.Sorted(maps.Keys(div)) {
		t.Logf("divergence %s: %.4f", k, div[k])
	}
	checkDivergences(t, div)
}
