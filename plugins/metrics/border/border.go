package main

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Parameter names.
const (
	paramColumn = "column" // the perturbation column (δ = x_adv − x), from an attack's save_delta
	paramRings  = "rings"  // ring widths k
	paramCells  = "cells"  // heatmap resolution: cells × cells means of |δ|; 0 for none
)

// unit is the fixed-point resolution of the sums: |δ| is summed as integer multiples of 1e-9, so
// states of shards merge to exactly the one-pass state.
const unit = 1e-9

// border is the border statistic of ANALYSES.md G: per pixel position the mean over images of
// max_c |δ_c|, its ratio on a k-pixel ring to the interior, and the heatmap.
type border struct{}

// state holds the per-position sums in units of 1e-9.
type state struct {
	H   int     `json:"h"`
	W   int     `json:"w"`
	N   int64   `json:"n"`
	Sum []int64 `json:"sum"` // H·W sums of max_c |δ| over images, row-major
}

func (border) Info() sdk.Info {
	return sdk.Info{
		Name: "border", Version: "0.1.0",
		Description: "where perturbations go: per pixel position the mean over images of max over channels |δ|; " +
			"border_ratio = mean on the k-pixel border ring / mean on the rest, for each k; heatmap of cells × cells means",
		Params: []params.Spec{
			{Name: paramColumn, Type: params.String, Default: "delta", Description: "tensor column [C,H,W] holding δ (attacks write it with save_delta: true)"},
			{Name: paramRings, Type: params.IntList, Default: []any{1.0, 2.0, 4.0}, Min: params.Bound(1), MaxLen: 16,
				Description: "border ring widths k in pixels"},
			{Name: paramCells, Type: params.Int, Default: 16, Min: params.Bound(0), Max: params.Bound(256),
				Description: "heatmap rows: cells × cells block means of the mean |δ| map (0: none)"},
		},
		Figures: []sdk.Figure{
			{Kind: sdk.FigureHeatmap, Metric: "delta_heatmap", Label: "mean |δ| (max over channels)"},
			{Kind: sdk.FigureBars, Metric: "border_ratio", Label: "border ring / interior mean |δ|"},
			{Kind: sdk.FigureBars, Metric: "delta_mean", Label: "mean |δ|"},
		},
		Metrics: []sdk.MetricInfo{
			{Name: "border_ratio", Unit: "ratio", Headline: true, Label: "border-ratio",
				Meaning: "mean |δ| on the k-pixel border ring over the mean on the interior (1: no preference for the border)"},
			{Name: "delta_mean", Unit: "pixel value", Min: 0, Max: 1, Meaning: "mean over images and pixels of max over channels |δ|"},
			{Name: "delta_heatmap", Unit: "pixel value", Min: 0, Max: 1, Meaning: "mean |δ| (max over channels) in one cell of the image grid (x, y)"},
		},
	}
}

func (border) Init(params.Values, sdk.Model) (state, error) { return state{}, nil }

func (border) Accumulate(p params.Values, _ sdk.Model, s state, batch arrow.RecordBatch) (state, error) {
	col := p.String(paramColumn)
	d, err := arrowio.TensorColumn(batch, col)
	if err != nil {
		return s, fmt.Errorf("border needs the perturbation column %q (set save_delta: true on the attack): %w", col, err)
	}
	shape := d.Shape()
	if len(shape) != 3 {
		return s, fmt.Errorf("column %q has shape %v, want [C,H,W]", col, shape)
	}
	c, h, w := shape[0], shape[1], shape[2]
	if s.Sum == nil {
		s.H, s.W, s.Sum = h, w, make([]int64, h*w)
	}
	if s.H != h || s.W != w {
		return s, fmt.Errorf("column %q holds %d×%d perturbations after %d×%d ones; one border statistic needs one image size", col, h, w, s.H, s.W)
	}
	for i := 0; i < d.Len(); i++ {
		row := d.Row(i)
		for q := 0; q < h*w; q++ {
			m := 0.0
			for ch := 0; ch < c; ch++ {
				v := math.Abs(float64(row[ch*h*w+q]))
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return s, fmt.Errorf("%s: δ is %v at channel %d, pixel %d", sdk.SampleName(batch, i), v, ch, q)
				}
				m = max(m, v)
			}
			s.Sum[q] += int64(math.Round(m / unit))
		}
		s.N++
	}
	return s, nil
}

func (border) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	if a.Sum == nil {
		return b, nil
	}
	if b.Sum == nil {
		return a, nil
	}
	if a.H != b.H || a.W != b.W {
		return a, fmt.Errorf("merge %d×%d with %d×%d border states", a.H, a.W, b.H, b.W)
	}
	out := state{H: a.H, W: a.W, N: a.N + b.N, Sum: make([]int64, len(a.Sum))}
	for i := range out.Sum {
		out.Sum[i] = a.Sum[i] + b.Sum[i]
	}
	return out, nil
}

// Report gives delta_mean (mean |δ| over positions), border_ratio per k (group k=<k>) and, with
// cells > 0, delta_heatmap (group y=<row>,x=<col> of cells × cells blocks).
func (border) Report(p params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	if s.N == 0 {
		return nil, nil
	}
	mean := func(in func(y, x int) bool) (float64, int64) {
		var sum, n int64
		for y := 0; y < s.H; y++ {
			for x := 0; x < s.W; x++ {
				if in(y, x) {
					sum += s.Sum[y*s.W+x]
					n++
				}
			}
		}
		if n == 0 {
			return math.NaN(), 0
		}
		return float64(sum) * unit / float64(n) / float64(s.N), n
	}
	all, _ := mean(func(int, int) bool { return true })
	rows := []sdk.Row{{Metric: "delta_mean", Value: all, N: s.N}}
	for _, k := range p.Ints(paramRings) {
		ring := func(y, x int) bool { return y < k || x < k || y >= s.H-k || x >= s.W-k }
		r, _ := mean(ring)
		in, n := mean(func(y, x int) bool { return !ring(y, x) })
		v := r / in
		if n == 0 {
			v = math.NaN() // the ring covers the image
		}
		rows = append(rows, sdk.Row{Metric: "border_ratio", Group: fmt.Sprintf("k=%d", k), Value: v, N: s.N})
	}
	if cells := p.Int(paramCells); cells > 0 {
		cy, cx := min(cells, s.H), min(cells, s.W)
		for by := 0; by < cy; by++ {
			for bx := 0; bx < cx; bx++ {
				y0, y1 := by*s.H/cy, (by+1)*s.H/cy
				x0, x1 := bx*s.W/cx, (bx+1)*s.W/cx
				v, _ := mean(func(y, x int) bool { return y >= y0 && y < y1 && x >= x0 && x < x1 })
				rows = append(rows, sdk.Row{Metric: "delta_heatmap", Group: fmt.Sprintf("y=%02d,x=%02d", by, bx), Value: v, N: s.N})
			}
		}
	}
	return rows, nil
}
