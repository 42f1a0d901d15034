package report

import (
	"github.com/vistudy/vistudy/arrowio"
)

// sweepFigure draws top-1 accuracy against the stage's single numeric sweep key, one line per model;
// a sweep over threshold is read as the solarization attack's.
func sweepFigure(s *study, st StageInfo, rows []arrowio.Result) ([]figure, error) {
	key, ok := sweepKey(rows, "top1")
	if !ok {
		return nil, nil
	}
	c, err := curves(rows, "top1", keyOnly(key))
	if err != nil {
		return nil, err
	}
	title := "Top-1 accuracy vs " + key + " (" + st.ID + ")"
	caption := "Stage " + st.ID + ": top-1 accuracy at each swept value of " + key + "."
	file := "sweep-" + key
	xLabel := key
	if key == "threshold" {
		title = "Solarization: top-1 accuracy vs threshold (" + st.ID + ")"
		caption = "Stage " + st.ID + ": top-1 accuracy on images solarized at threshold t (x where x < t, else 1 − x); " +
			"the attack's value is the minimum over t."
		file = "solarization"
		xLabel = "solarization threshold t (pixel value in [0, 1])"
	}
	pn := panel{Title: title, XLabel: xLabel, YLabel: "top-1 accuracy", Series: s.lines(c), YSpan: unit}
	has := func(m string) bool { return len(c[m]) > 0 }
	return []figure{s.panelsFigure(file, title, caption, []panel{pn}, 1, s.modelLegend(has, nil, true, true))}, nil
}
