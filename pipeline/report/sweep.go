package report

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func init() {
	RegisterFigure(sdk.FigureSweep, sweepFigure)
}

// sweepFigure draws the hint's metric (each metric with a sweep when the hint names none) against the
// stage's single numeric sweep key, one line per model; a sweep over threshold is read as the
// solarization attack's.
func sweepFigure(st *Stage) ([]Figure, error) {
	var out []Figure
	for _, metric := range hintMetrics(st) {
		key, ok := sweepKey(st.Rows, metric)
		if !ok {
			continue
		}
		c, err := curves(st.Rows, metric, keyOnly(key))
		if err != nil {
			return nil, err
		}
		label := labelOf(st.Hint, metric)
		title := capitalise(label) + " vs " + key + " (" + st.ID + ")"
		caption := "Stage " + st.ID + ": " + label + " at each swept value of " + key + "."
		file := "sweep-" + key
		if st.Hint.Metric == "" {
			file = "sweep-" + metric + "-" + key
		}
		xLabel := key
		if key == "threshold" {
			title = "Solarization: " + label + " vs threshold (" + st.ID + ")"
			caption = "Stage " + st.ID + ": " + label + " on images solarized at threshold t (x where x < t, else 1 − x); " +
				"the attack's value is the minimum over t."
			file = "solarization"
			xLabel = "solarization threshold t (pixel value in [0, 1])"
		}
		ser := st.study.lines(c)
		intervals := false
		for i := range ser {
			if e, ok := sweepErrors(st.Rows, metric, key, ser[i].Model, ser[i].XYs); ok {
				ser[i].Err, intervals = e, true
			}
		}
		pn := panel{Title: title, XLabel: xLabel, YLabel: label, Series: ser, YSpan: fractionSpan(st.Rows, metric)}
		has := func(m string) bool { return len(c[m]) > 0 }
		legend := st.study.modelLegend(has, nil, true, true)
		if intervals {
			caption += " Bars: Wilson 95% intervals over n samples."
		}
		if chance, ok := chanceLevel(metric, st.study.classes); ok {
			lo, hi := xRange(c)
			pn.Setup = func(p *plot.Plot) error {
				return referenceLine(p, plotter.XYs{{X: lo, Y: chance}, {X: hi, Y: chance}})
			}
			legend = append(legend, refLegend(fmt.Sprintf("chance (%s/%d)", strings.TrimPrefix(metric, "top"), st.study.classes)))
			caption += fmt.Sprintf(" Dashed: chance, %s/%d (%d classes).", strings.TrimPrefix(metric, "top"), st.study.classes, st.study.classes)
		}
		f := st.study.panelsFigure(file, title, caption, []panel{pn}, 1, legend)
		f.Metrics = []string{metric}
		out = append(out, f)
	}
	return out, nil
}

// topK matches the top-k accuracy metrics.
var topK = regexp.MustCompile(`^top([0-9]+)$`)

// chanceLevel is the accuracy of guessing for a top-k metric: k/classes (false when classes is unknown
// or the metric is not top-k).
func chanceLevel(metric string, classes int) (float64, bool) {
	m := topK.FindStringSubmatch(metric)
	if m == nil || classes <= 0 {
		return 0, false
	}
	k, err := strconv.Atoi(m[1])
	if err != nil || k <= 0 {
		return 0, false
	}
	return min(1, float64(k)/float64(classes)), true
}

// xRange is the span of every curve's x.
func xRange(c map[string]plotter.XYs) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, xys := range c {
		for _, xy := range xys {
			lo, hi = min(lo, xy.X), max(hi, xy.X)
		}
	}
	return lo, hi
}

// sweepErrors gives each point of model's curve of metric (xys, sorted by x) the distances to its
// Wilson 95% interval; false when a point's row is not a proportion of n samples.
func sweepErrors(rows []arrowio.Result, metric, key, model string, xys plotter.XYs) (plotter.YErrors, bool) {
	byX := map[float64]arrowio.Result{}
	for _, r := range rows {
		if r.Model != model || r.Metric != metric || r.Group == "" {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, false
		}
		x, err := strconv.ParseFloat(g[key], 64)
		if err != nil {
			continue
		}
		byX[x] = r
	}
	out := make(plotter.YErrors, len(xys))
	for i, xy := range xys {
		r, ok := byX[xy.X]
		if !ok || !hasCI(r) {
			return nil, false
		}
		lo, hi := wilson(r.Value, r.N)
		out[i].Low, out[i].High = xy.Y-lo, hi-xy.Y
	}
	return out, true
}

// hintMetrics is the hint's metric, or every metric of the stage, sorted, when it names none.
func hintMetrics(st *Stage) []string {
	if st.Hint.Metric != "" {
		return []string{st.Hint.Metric}
	}
	seen := map[string]bool{}
	for _, r := range st.Rows {
		seen[r.Metric] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// labelOf is how titles and axes name metric: the hint's label when the hint names metric, else the metric's name.
func labelOf(h sdk.Figure, metric string) string {
	if h.Label != "" && h.Metric == metric {
		return h.Label
	}
	return metric
}

// capitalise upper-cases the first letter of s (a label at the start of a title).
func capitalise(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// fractionSpan is [0, 1] when every finite value of metric lies in it (accuracies, rates), else nil.
func fractionSpan(rows []arrowio.Result, metric string) *[2]float64 {
	for _, r := range rows {
		if r.Metric == metric && !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) && (r.Value < 0 || r.Value > 1) {
			return nil
		}
	}
	return unit
}
