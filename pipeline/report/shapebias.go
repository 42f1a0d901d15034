package report

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/arrowio"
)

// humanShapeBias is the shape bias of human observers on cue-conflict images: Geirhos et al. (2019),
// "ImageNet-trained CNNs are biased towards texture", ICLR: 95.9% shape decisions averaged over observers.
const humanShapeBias = 0.96

// humanSource says where humanShapeBias comes from, in captions.
const humanSource = "Dotted: human observers, ≈ 0.96 (Geirhos et al., \"ImageNet-trained CNNs are biased towards texture\", ICLR 2019: 95.9% shape decisions on average)."

// humanStyle draws published human reference values.
var humanStyle = draw.LineStyle{Color: color.RGBA{0x33, 0x33, 0x33, 0xff}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(1), vg.Points(2.5)}}

// pooledShapeBias is per model the stage's overall shape bias row (pooled over categories); without
// one, it is pooled here from the categories' shape and texture counts.
func pooledShapeBias(rows []arrowio.Result) map[string]arrowio.Result {
	out := map[string]arrowio.Result{}
	shape, texture := map[string]float64{}, map[string]float64{}
	for _, r := range rows {
		switch {
		case r.Group == "" && r.Metric == "shape_bias" && !math.IsNaN(r.Value):
			out[r.Model] = r
		case r.Group != "" && strings.HasPrefix(r.Group, "category=") && r.Metric == "shape_count":
			shape[r.Model] += r.Value
		case r.Group != "" && strings.HasPrefix(r.Group, "category=") && r.Metric == "texture_count":
			texture[r.Model] += r.Value
		}
	}
	for m, sh := range shape {
		if _, ok := out[m]; ok || sh+texture[m] == 0 {
			continue
		}
		n := sh + texture[m]
		out[m] = arrowio.Result{Model: m, Metric: "shape_bias", Value: sh / n, N: int64(n)}
	}
	return out
}

func init() {
	RegisterFigure("shapebias", shapeBiasFigure)
}

// shapeBiasFigure is Geirhos et al.'s per-category plot: categories down the side, shape bias across
// (texture left, shape right), one marker per model and category, a vertical line at each model's mean.
func shapeBiasFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	byCat := map[string]map[string]float64{} // model → category → shape bias
	nCat := map[string]map[string]int64{}    // model → category → shape and texture decisions
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
			byCat[r.Model], nCat[r.Model] = map[string]float64{}, map[string]int64{}
		}
		byCat[r.Model][c] = r.Value
		nCat[r.Model][c] = r.N
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
	pooled := pooledShapeBias(rows)
	// Each model's markers sit a little above or below the category's line, so that intervals stay apart.
	var drawn []string
	for _, m := range s.models {
		if len(byCat[m]) > 0 {
			drawn = append(drawn, m)
		}
	}
	step := min(0.15, 0.6/float64(max(len(drawn), 1)))
	nudge := map[string]float64{}
	for i, m := range drawn {
		nudge[m] = (float64(len(drawn)-1)/2 - float64(i)) * step
	}
	var ser []series
	label := map[string]string{}
	for _, m := range s.models {
		vals := byCat[m]
		if len(vals) == 0 {
			continue
		}
		var pts plotter.XYs
		var errs plotter.XErrors
		for _, c := range order {
			if v, ok := vals[c]; ok {
				pts = append(pts, plotter.XY{X: v, Y: y[c] + nudge[m]})
				lo, hi := wilson(v, nCat[m][c])
				if math.IsNaN(lo) {
					lo, hi = v, v
				}
				errs = append(errs, struct{ Low, High float64 }{v - lo, hi - v})
			}
		}
		ser = append(ser, series{Model: m, XYs: pts, Points: true, XErr: errs})
		pool, ok := pooled[m]
		if !ok {
			label[m] = m + " (no pooled value)"
			continue
		}
		label[m] = fmt.Sprintf("%s (%.3f)", m, pool.Value)
		if hasCI(pool) {
			lo, hi := wilson(pool.Value, pool.N)
			label[m] = fmt.Sprintf("%s (%.3f [%.2f, %.2f])", m, pool.Value, lo, hi)
		}
		ser = append(ser, series{Model: m, XYs: plotter.XYs{{X: pool.Value, Y: -0.5}, {X: pool.Value, Y: float64(len(order)) - 0.5}}, Line: true})
	}
	pn := panel{Title: "Shape bias per category", XLabel: "shape bias: shape / (shape + texture) decisions", Series: ser,
		XSpan: unit, YSpan: &[2]float64{-0.5, float64(len(order)) - 0.5},
		Setup: func(p *plot.Plot) error {
			p.NominalY(order...)
			p.X.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0\ntexture"}, {Value: 0.25, Label: "0.25"},
				{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1\nshape"}}
			if err := referenceLine(p, plotter.XYs{{X: 0.5, Y: -0.5}, {X: 0.5, Y: float64(len(order)) - 0.5}}); err != nil {
				return err
			}
			return labelledLine(p, plotter.XYs{{X: humanShapeBias, Y: -0.5}, {X: humanShapeBias, Y: float64(len(order)) - 0.5}}, "", humanStyle)
		}}
	legend := s.modelLegend(func(m string) bool { return len(byCat[m]) > 0 }, label, true, true)
	legend = append(legend, legendEntry{Name: fmt.Sprintf("humans (%.2f, Geirhos et al. 2019)", humanShapeBias),
		Thumbs: []plot.Thumbnailer{&plotter.Line{LineStyle: humanStyle}}}, refLegend("no preference (0.5)"))
	f := s.panelsFigure("shapebias", "Shape bias per category ("+st.ID+")",
		"Stage "+st.ID+": per shape category, the fraction of shape decisions among shape and texture decisions on "+
			"cue-conflict images (markers, with Wilson 95% intervals over that category's decisions). Vertical lines and legend: each model's shape bias pooled over all categories "+
			"(shape decisions / (shape + texture decisions), the number in the tables) with its Wilson 95% interval. "+
			humanSource+" Dashed: 0.5, no preference.",
		[]panel{pn}, 1, legend)
	f.Metrics = []string{"shape_bias", "shape_count", "texture_count"}
	f.H = max(f.H, vg.Length(len(order))*0.3*vg.Inch+1.4*vg.Inch)
	return []Figure{f}, nil
}
