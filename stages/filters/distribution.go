package filters

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/runtimes/onnx"
)

// Metric names of the cross-model rows.
const (
	MetricDivergence        = "divergence"         // symmetric KL divergence of the filter distributions
	MetricExplainedVariance = "explained_variance" // explained variance ratio of a PCA component
)

// float32Eps replaces empty histogram bins, as numpy's np.finfo(np.float32).eps.
const float32Eps = 1.1920928955078125e-07

// Basis is the 9-component PCA basis of the max|w|-scaled 3×3 filters of all compared models,
// and the range of their coefficients. Feed every model to Add, call Finish, feed every model to
// Measure, then build Histograms.
type Basis struct {
	n          int64
	sum        [9]float64
	sc         scatter
	fitted     bool
	mean       [9]float64
	components [9][9]float64 // rows: unit components, by descending explained variance
	ratio      [9]float64
	lo, hi     float64 // range of all coefficients seen by Measure
	measured   int64
}

// NewBasis returns an empty basis.
func NewBasis() *Basis { return &Basis{lo: math.Inf(1), hi: math.Inf(-1)} }

// scaled writes a filter divided by its max |w| into x (a zero filter stays zero).
func scaled(row []float32, x *[9]float64) {
	var m float64
	for _, v := range row {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		m = 1
	}
	for j, v := range row {
		x[j] = float64(v) / m
	}
}

// Add accumulates a layer's filters (pass 1).
func (b *Basis) Add(k *onnx.Kernels) error {
	if b.fitted {
		return errors.New("filters: basis: Add after Finish")
	}
	var x [9]float64
	for r := 0; r < k.Rows(); r++ {
		scaled(k.Row(r), &x)
		for j, v := range x {
			b.sum[j] += v
		}
		b.sc.add(&x)
	}
	b.n += int64(k.Rows())
	return nil
}

// Finish fits the basis: the eigenvectors of the filters' covariance, by descending eigenvalue.
func (b *Basis) Finish() error {
	if b.n < 2 {
		return fmt.Errorf("filters: basis: %d filters, a PCA needs at least 2", b.n)
	}
	n := float64(b.n)
	for j := range b.mean {
		b.mean[j] = b.sum[j] / n
	}
	cov := mat.NewSymDense(9, nil)
	for i := 0; i < 9; i++ {
		for j := i; j < 9; j++ {
			cov.SetSym(i, j, (b.sc[i][j]-n*b.mean[i]*b.mean[j])/(n-1))
		}
	}
	var e mat.EigenSym
	if !e.Factorize(cov, true) {
		return errors.New("filters: basis: the eigendecomposition of the covariance did not converge")
	}
	vals := e.Values(nil)
	var vecs mat.Dense
	e.VectorsTo(&vecs)
	var total float64
	for _, v := range vals {
		total += math.Max(v, 0)
	}
	if total == 0 {
		return errors.New("filters: basis: all scaled filters are identical; the components are undefined")
	}
	for c := 0; c < 9; c++ {
		col := 8 - c // EigenSym orders ascending
		b.ratio[c] = math.Max(vals[col], 0) / total
		big := 0
		for j := 0; j < 9; j++ {
			b.components[c][j] = vecs.At(j, col)
			if math.Abs(b.components[c][j]) > math.Abs(b.components[c][big]) {
				big = j
			}
		}
		if b.components[c][big] < 0 {
			for j := range b.components[c] {
				b.components[c][j] = -b.components[c][j]
			}
		}
	}
	b.fitted = true
	return nil
}

// project writes the coefficients of a scaled filter x into out.
func (b *Basis) project(x, out *[9]float64) {
	for c := range out {
		var s float64
		for j, v := range x {
			s += (v - b.mean[j]) * b.components[c][j]
		}
		out[c] = s
	}
}

// Measure widens the coefficient range by a layer's filters (pass 2).
func (b *Basis) Measure(k *onnx.Kernels) error {
	if !b.fitted {
		return errors.New("filters: basis: Measure before Finish")
	}
	var x, y [9]float64
	for r := 0; r < k.Rows(); r++ {
		scaled(k.Row(r), &x)
		b.project(&x, &y)
		for _, v := range y {
			b.lo, b.hi = math.Min(b.lo, v), math.Max(b.hi, v)
		}
	}
	b.measured += int64(k.Rows())
	return nil
}

// Filters is the number of filters the basis was fitted on.
func (b *Basis) Filters() int64 { return b.n }

// Explained returns the explained variance ratio of each component, descending (after Finish).
func (b *Basis) Explained() []float64 { return append([]float64(nil), b.ratio[:]...) }

// Component returns unit component c (0 = most variance) over the 9 kernel positions, row-major.
func (b *Basis) Component(c int) []float64 { return append([]float64(nil), b.components[c][:]...) }

// Range returns the smallest and largest coefficient Measure saw.
func (b *Basis) Range() (lo, hi float64) { return b.lo, b.hi }

// Rows are the explained_variance rows (Model "", group component=<i>, N = filters).
func (b *Basis) Rows() []arrowio.Result {
	out := make([]arrowio.Result, 9)
	for c, r := range b.ratio {
		out[c] = arrowio.Result{Metric: MetricExplainedVariance, Group: "component=" + strconv.Itoa(c), Value: r, N: b.n}
	}
	return out
}

// hist counts the coefficients of a set of filters, per component and bin.
type hist struct {
	n      int64
	counts [9][]int64
}

// newHist returns an empty histogram of bins bins per component.
func newHist(bins int) *hist {
	h := &hist{}
	for c := range h.counts {
		h.counts[c] = make([]int64, bins)
	}
	return h
}

// modelHists are a model's histogram over all its layers and per depth group.
type modelHists struct {
	all   *hist
	depth []*hist
}

// Histograms are the per-model and per-depth-group histograms of the filters' coefficients in a
// Basis (pass 3), and the divergences between them.
type Histograms struct {
	basis   *Basis
	bins    int
	groups  int
	weights [9]float64
	edges   []float64 // bins+1 edges, numpy's linspace
	models  []string  // in the order first added
	per     map[string]*modelHists
	pooled  []*hist // per depth group, over all models
}

// NewHistograms prepares the histograms over the basis's measured range.
func NewHistograms(b *Basis, p params.Values) (*Histograms, error) {
	v, err := check(p)
	if err != nil {
		return nil, err
	}
	if !b.fitted || b.measured == 0 {
		return nil, errors.New("filters: histograms: the basis is not fitted and measured (Finish, then Measure every model)")
	}
	h := &Histograms{basis: b, bins: v.Int(ParamBins), groups: v.Int(ParamDepthGroups), per: map[string]*modelHists{}}
	for c := range h.weights {
		h.weights[c] = b.ratio[c]
		if v.String(ParamWeights) == WeightsUniform {
			h.weights[c] = 1.0 / 9
		}
	}
	lo, hi := b.lo, b.hi
	if lo == hi { // numpy widens an empty range by 0.5 on each side
		lo, hi = lo-0.5, hi+0.5
	}
	h.edges = make([]float64, h.bins+1)
	step := (hi - lo) / float64(h.bins)
	for i := range h.edges {
		h.edges[i] = float64(i)*step + lo
	}
	h.edges[h.bins] = hi
	for range h.groups {
		h.pooled = append(h.pooled, newHist(h.bins))
	}
	return h, nil
}

// bin is the bin of x as np.histogram finds it (the last bin closed), -1 outside the range.
func (h *Histograms) bin(x float64) int {
	lo, hi := h.edges[0], h.edges[h.bins]
	if x < lo || x > hi {
		return -1
	}
	i := min(int((x-lo)/(hi-lo)*float64(h.bins)), h.bins-1)
	if x < h.edges[i] {
		i--
	} else if i < h.bins-1 && x >= h.edges[i+1] {
		i++
	}
	return i
}

// DepthGroup is the relative-depth group of a layer among groups equal-width groups over [0, 1].
func DepthGroup(l onnx.Layer, groups int) int {
	return min(max(int(l.RelDepth*float64(groups)), 0), groups-1)
}

// Add counts a layer's filters for model (pass 3): in the model's histogram, its depth group's,
// and the pooled depth group's.
func (h *Histograms) Add(model string, k *onnx.Kernels) error {
	mh := h.per[model]
	if mh == nil {
		mh = &modelHists{all: newHist(h.bins)}
		for range h.groups {
			mh.depth = append(mh.depth, newHist(h.bins))
		}
		h.per[model] = mh
		h.models = append(h.models, model)
	}
	g := DepthGroup(k.Layer, h.groups)
	targets := []*hist{mh.all, mh.depth[g], h.pooled[g]}
	var x, y [9]float64
	for r := 0; r < k.Rows(); r++ {
		scaled(k.Row(r), &x)
		h.basis.project(&x, &y)
		for c, v := range y {
			i := h.bin(v)
			if i < 0 {
				return fmt.Errorf("filters: model %s layer %q: coefficient %g outside the measured range [%g, %g]: Measure every model before building histograms",
					model, k.Layer.Name, v, h.edges[0], h.edges[h.bins])
			}
			for _, t := range targets {
				t.counts[c][i]++
			}
		}
	}
	for _, t := range targets {
		t.n += int64(k.Rows())
	}
	return nil
}

// distribution turns a histogram into per-component probabilities: density, empty bins set to
// float32 eps, renormalised.
func (h *Histograms) distribution(t *hist) [9][]float64 {
	var out [9][]float64
	for c, counts := range t.counts {
		p := make([]float64, h.bins)
		var s float64
		for i, n := range counts {
			p[i] = float64(n) / (float64(t.n) * (h.edges[i+1] - h.edges[i]))
			if p[i] == 0 {
				p[i] = float32Eps
			}
			s += p[i]
		}
		for i := range p {
			p[i] /= s
		}
		out[c] = p
	}
	return out
}

// divergence is Σ_c w_c·[KL(P_c‖Q_c) + KL(Q_c‖P_c)].
func (h *Histograms) divergence(p, q [9][]float64) float64 {
	var d float64
	for c := range p {
		d += h.weights[c] * symmetricKL(p[c], q[c])
	}
	return d
}

// symmetricKL is KL(p‖q) + KL(q‖p) in nats, for distributions without zeros.
func symmetricKL(p, q []float64) float64 {
	var d float64
	for i := range p {
		d += (p[i] - q[i]) * (math.Log(p[i]) - math.Log(q[i])) // p·log(p/q) + q·log(q/p), symmetric to the bit
	}
	return d
}

// groupEscaper keeps model names from breaking a group's key=value structure.
var groupEscaper = strings.NewReplacer(",", "_", "=", "_")

// Rows are the cross-model rows: the basis's explained_variance rows; divergence between every
// two models (Model = A, group other=<B>, N = A's filters, the diagonal included); between depth
// groups pooled over all models (Model "", group depth_group=<i>,other_group=<j>, N = group i's
// filters) and within each model (Model = A, the same groups). Histograms without filters are left out.
func (h *Histograms) Rows() []arrowio.Result {
	out := h.basis.Rows()
	dists := make(map[*hist][9][]float64)
	dist := func(t *hist) [9][]float64 {
		d, ok := dists[t]
		if !ok {
			d = h.distribution(t)
			dists[t] = d
		}
		return d
	}
	for _, a := range h.models {
		for _, b := range h.models {
			ha, hb := h.per[a].all, h.per[b].all
			out = append(out, arrowio.Result{Model: a, Metric: MetricDivergence, Group: "other=" + groupEscaper.Replace(b),
				Value: h.divergence(dist(ha), dist(hb)), N: ha.n})
		}
	}
	out = append(out, h.groupRows("", h.pooled, dist)...)
	for _, a := range h.models {
		out = append(out, h.groupRows(a, h.per[a].depth, dist)...)
	}
	return out
}

// groupRows are the divergences between the depth groups in gs that hold filters.
func (h *Histograms) groupRows(model string, gs []*hist, dist func(*hist) [9][]float64) []arrowio.Result {
	var out []arrowio.Result
	for i, gi := range gs {
		for j, gj := range gs {
			if gi.n == 0 || gj.n == 0 {
				continue
			}
			out = append(out, arrowio.Result{Model: model, Metric: MetricDivergence,
				Group: "depth_group=" + strconv.Itoa(i) + ",other_group=" + strconv.Itoa(j),
				Value: h.divergence(dist(gi), dist(gj)), N: gi.n})
		}
	}
	return out
}
