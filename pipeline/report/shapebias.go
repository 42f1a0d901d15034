package report

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/vistudy/vistudy/arrowio"
)

func init() {
	RegisterFigure("shapebias", shapeBiasFigure)
}

// shapeBiasFigure is Geirhos et al.'s per-category plot: categories down the side, shape bias across
// (texture left, shape right), one marker per model and category, a vertical line at each model's mean.
func shapeBiasFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	byCat := map[string]map[string]float64{} // model → category → shape bias
	cats := map[string]bool{}
	for _, r := range rows {
		if r.Metric != "shape_bias" || math.IsNaN(r.Value) {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", r.Model, err)
		}
		c, ok := g["category"]
		if !ok || len(g) != 1 {
			continue
		}
		if byCat[r.Model] == nil {
			byCat[r.Model] = map[string]float64{}
		}
		byCat[r.Model][c] = r.Value
		cats[c] = true
	}
	if len(cats) == 0 {
		return nil, nil
	}
	// The first category alphabetically at the top: nominal y puts index 0 at the bottom.
	order := slices.Sorted(maps.Keys(cats))
	slices.Reverse(order)
	y := map[string]float64{}
	for i, c := range order {
		y[c] = float64(i)
	}
	var ser []series
	label := map[string]string{}
	for _, m := range s.models {
		vals := byCat[m]
		if len(vals) == 0 {
			continue
		}
		var pts plotter.XYs
		var sum float64
		for _, c := range order {
			if v, ok := vals[c]; ok {
				pts = append(pts, plotter.XY{X: v, Y: y[c]})
				sum += v
			}
		}
		mean := sum / float64(len(pts))
		label[m] = fmt.Sprintf("%s (mean %.3f)", m, mean)
		ser = append(ser, series{Model: m, XYs: pts, Points: true},
			series{Model: m, XYs: plotter.XYs{{X: mean, Y: -0.5}, {X: mean, Y: float64(len(order)) - 0.5}}, Line: true})
	}
	pn := panel{Title: "Shape bias per category", XLabel: "shape bias: shape / (shape + texture) decisions", Series: ser,
		XSpan: unit, YSpan: &[2]float64{-0.5, float64(len(order)) - 0.5},
		Setup: func(p *plot.Plot) error {
			p.NominalY(order...)
			p.X.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0\ntexture"}, {Value: 0.25, Label: "0.25"},
				{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1\nshape"}}
			return referenceLine(p, plotter.XYs{{X: 0.5, Y: -0.5}, {X: 0.5, Y: float64(len(order)) - 0.5}})
		}}
	legend := s.modelLegend(func(m string) bool { return len(byCat[m]) > 0 }, label, true, true)
	f := s.panelsFigure("shapebias", "Shape bias per category ("+st.ID+")",
		"Stage "+st.ID+": per shape category, the fraction of shape decisions among shape and texture decisions on "+
			"cue-conflict images (markers); vertical lines: each model's mean over categories; dashed: 0.5.",
		[]panel{pn}, 1, legend)
	f.H = max(f.H, vg.Length(len(order))*0.3*vg.Inch+1.4*vg.Inch)
	return []Figure{f}, nil
}
