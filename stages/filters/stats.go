package filters

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/runtimes/onnx"
	"github.com/vistudy/vistudy/stages/criticality"
)

// Metric names of the per-layer rows.
const (
	MetricSparsity               = "sparsity"                             // fraction of sparse filters
	MetricVarianceEntropy        = "variance_entropy"                     // over all filters
	MetricVarianceEntropyNS      = "variance_entropy_nonsparse"           // over the non-sparse filters
	MetricVarianceEntropyNSUndef = "variance_entropy_nonsparse_undefined" // 1 where every filter is sparse
	MetricOrthogonality          = "orthogonality"                        // 1 − mean |cos| between output channels
	MetricOrthogonalityUndef     = "orthogonality_undefined"              // 1 where the layer has one output channel
	MetricFilters                = "filters"                              // 3×3 filters of the layer
)

// LayerStats are the statistics of one Conv layer's 3×3 kernels.
type LayerStats struct {
	Layer                    onnx.Layer
	Filters                  int     // c_out·c_in
	Sparse                   int     // sparse filters
	Sparsity                 float64 // Sparse / Filters
	VarianceEntropy          float64 // over all filters
	NonSparseVarianceEntropy float64 // over the non-sparse filters; NaN when there are none
	Orthogonality            float64 // NaN when c_out < 2
	OutChannels              int     // c_out, the rows of the orthogonality
}

// Stats computes the statistics of every Conv layer of m with 3×3 kernels, in graph order.
func Stats(m *onnx.Model, p params.Values) ([]LayerStats, error) {
	v, err := check(p)
	if err != nil {
		return nil, err
	}
	var out []LayerStats
	for _, l := range Layers3x3(m) {
		k, err := m.Kernels3x3(l)
		if err != nil {
			return nil, fmt.Errorf("filters: %w", err)
		}
		out = append(out, LayerStatsOf(k, v.Float(ParamSparsityThreshold)))
	}
	return out, nil
}

// Layers3x3 lists the Conv layers of m whose kernels are 3×3, in graph order.
func Layers3x3(m *onnx.Model) []onnx.Layer {
	var out []onnx.Layer
	for _, l := range m.Layers() {
		if s := l.WeightShape; l.OpType == "Conv" && len(s) == 4 && s[2] == 3 && s[3] == 3 {
			out = append(out, l)
		}
	}
	return out
}

// LayerStatsOf computes the statistics of one layer's kernels with the given sparsity threshold.
func LayerStatsOf(k *onnx.Kernels, threshold float64) LayerStats {
	sparse := SparseMask(k, threshold)
	s := LayerStats{Layer: k.Layer, Filters: k.Rows(), Orthogonality: Orthogonality(k), OutChannels: int(k.COut)}
	keep := make([]bool, len(sparse))
	for i, sp := range sparse {
		keep[i] = !sp
		if sp {
			s.Sparse++
		}
	}
	s.Sparsity = float64(s.Sparse) / float64(s.Filters)
	s.VarianceEntropy = VarianceEntropy(k, nil)
	s.NonSparseVarianceEntropy = VarianceEntropy(k, keep)
	return s
}

// SparseMask marks the filters whose 9 |w| are all below threshold·max|W| of the layer (1 when
// max|W| is 0, so that a layer of zeros is all sparse), compared in float32 as torch does.
func SparseMask(k *onnx.Kernels, threshold float64) []bool {
	var maxAbs float64
	for _, v := range k.Values {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	t := threshold * maxAbs
	if t == 0 {
		t = 1
	}
	t32 := float32(t) // torch compares the float32 weights with the threshold in float32
	out := make([]bool, k.Rows())
	for r := range out {
		out[r] = true
		for _, v := range k.Row(r) {
			if float32(math.Abs(float64(v))) >= t32 {
				out[r] = false
				break
			}
		}
	}
	return out
}

// VarianceEntropy is −Σ r·log10 r over the variance ratios r of the kept filters (keep nil: all)
// after removing their column means; 0 when they are all identical, NaN when none is kept.
func VarianceEntropy(k *onnx.Kernels, keep []bool) float64 {
	var mean [9]float64
	n := 0
	for r := 0; r < k.Rows(); r++ {
		if keep == nil || keep[r] {
			for j, v := range k.Row(r) {
				mean[j] += float64(v)
			}
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var sc scatter
	var x [9]float64
	for r := 0; r < k.Rows(); r++ {
		if keep != nil && !keep[r] {
			continue
		}
		for j, v := range k.Row(r) {
			x[j] = float64(v) - mean[j]
		}
		sc.add(&x)
	}
	var e mat.EigenSym
	if !e.Factorize(sc.sym(), false) {
		return math.NaN()
	}
	vals := e.Values(nil)
	for i, v := range vals {
		vals[i] = math.Max(v, 0) // rounding can leave a zero eigenvalue slightly negative
	}
	return entropy10(vals)
}

// scatter accumulates Σ x·xᵀ of 9-vectors (upper triangle).
type scatter [9][9]float64

// add adds x·xᵀ.
func (s *scatter) add(x *[9]float64) {
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		for j := i; j < 9; j++ {
			s[i][j] += xi * x[j]
		}
	}
}

// sym returns the accumulated matrix as a symmetric matrix.
func (s *scatter) sym() *mat.SymDense {
	out := mat.NewSymDense(9, nil)
	for i := 0; i < 9; i++ {
		for j := i; j < 9; j++ {
			out.SetSym(i, j, s[i][j])
		}
	}
	return out
}

// entropy10 is −Σ r·log10 r of the ratios r = v/Σv (0·log 0 = 0); 0 when Σv is 0.
func entropy10(vals []float64) float64 {
	var total float64
	for _, v := range vals {
		total += v
	}
	if total == 0 {
		return 0
	}
	var h float64
	for _, v := range vals {
		if r := v / total; r > 0 {
			h -= r * math.Log10(r)
		}
	}
	return h
}

// Orthogonality is 1 − Σ|ŴŴᵀ − I| / (n(n−1)) over the n output channels' L2-normalised kernels
// (c_in·9 values each; zero rows stay zero); NaN for n < 2.
func Orthogonality(k *onnx.Kernels) float64 {
	n, width := int(k.COut), int(k.CIn)*9
	if n < 2 {
		return math.NaN()
	}
	w := mat.NewDense(n, width, nil)
	for o := 0; o < n; o++ {
		row := k.Values[o*width : (o+1)*width]
		var norm float64
		for _, v := range row {
			norm += float64(v) * float64(v)
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			norm = 1
		}
		for j, v := range row {
			w.Set(o, j, float64(v)/norm)
		}
	}
	var g mat.SymDense
	g.SymOuterK(1, w)
	var c float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := g.At(i, j)
			if i == j {
				v--
			}
			c += math.Abs(v)
		}
	}
	return 1 - c/float64(n*(n-1))
}

// Rows are the tidy rows of the layer (Model and Stage empty: the caller fills them), with the
// group of criticality.LayerGroup; undefined statistics give way to *_undefined = 1.
func (s LayerStats) Rows() []arrowio.Result {
	g := criticality.LayerGroup(s.Layer)
	row := func(metric string, v float64, n int) arrowio.Result {
		return arrowio.Result{Metric: metric, Group: g, Value: v, N: int64(n)}
	}
	out := []arrowio.Result{
		row(MetricSparsity, s.Sparsity, s.Filters),
		row(MetricVarianceEntropy, s.VarianceEntropy, s.Filters),
	}
	if math.IsNaN(s.NonSparseVarianceEntropy) {
		out = append(out, row(MetricVarianceEntropyNSUndef, 1, s.Filters))
	} else {
		out = append(out, row(MetricVarianceEntropyNS, s.NonSparseVarianceEntropy, s.Filters-s.Sparse))
	}
	if math.IsNaN(s.Orthogonality) {
		out = append(out, row(MetricOrthogonalityUndef, 1, s.OutChannels))
	} else {
		out = append(out, row(MetricOrthogonality, s.Orthogonality, s.OutChannels))
	}
	return append(out, row(MetricFilters, float64(s.Filters), s.Filters))
}
