package report

import (
	"maps"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

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
		pn := panel{Title: title, XLabel: xLabel, YLabel: label, Series: st.study.lines(c), YSpan: fractionSpan(st.Rows, metric)}
		has := func(m string) bool { return len(c[m]) > 0 }
		out = append(out, st.study.panelsFigure(file, title, caption, []panel{pn}, 1, st.study.modelLegend(has, nil, true, true)))
	}
	return out, nil
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
