package report

import (
	"math"

	"gonum.org/v1/plot/plotter"

	"github.com/vistudy/vistudy/arrowio"
)

func init() {
	RegisterFigure("criticality", criticalityFigure)
	RegisterFigure("filters", filterStatsFigure)
}

// depthCurves collects per model metric's (relative depth, value) points over its layer rows.
func depthCurves(rows []arrowio.Result, metric string) (map[string]plotter.XYs, error) {
	vals, err := layerValues(rows, metric)
	if err != nil {
		return nil, err
	}
	out := map[string]plotter.XYs{}
	for m, vs := range vals {
		if xys := depthXYs(vs); len(xys) > 0 {
			out[m] = xys
		}
	}
	return out, nil
}

// criticalityFigure draws layer criticality against relative depth, one line per model.
func criticalityFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	c, err := depthCurves(rows, "criticality")
	if err != nil || len(c) == 0 {
		return nil, err
	}
	pn := panel{Title: "Layer criticality (" + st.ID + ")", XLabel: "relative depth of the layer (0 = input, 1 = output)",
		YLabel: "criticality (%)", Series: s.lines(c), XSpan: unit, YSpan: &[2]float64{0, 0}}
	has := func(m string) bool { return len(c[m]) > 0 }
	f := s.panelsFigure("criticality", pn.Title,
		"Stage "+st.ID+": per layer, (1 − mean cosine similarity of the softmax outputs before and after re-initialising "+
			"that layer) × 100, over samples and trials; one line per model.",
		[]panel{pn}, 1, s.modelLegend(has, nil, true, true))
	f.Metrics = []string{"criticality"}
	return []Figure{f}, nil
}

// filterStats are the per-layer statistics of a filters stage, with their axis labels.
var filterStats = []struct {
	metric, title, yLabel string
	span                  *[2]float64 // the statistic's range, which the axis always shows
}{
	{"sparsity", "Sparsity", "fraction of sparse 3×3 filters", unit},
	{"variance_entropy", "Variance entropy", "variance entropy (log10 units, max log10 9)", &[2]float64{0, math.Log10(9)}},
	{"orthogonality", "Orthogonality", "orthogonality (1 − mean |cos| between filters)", unit},
}

// filterStatsFigure draws the filter statistics against relative depth, one panel per statistic.
func filterStatsFigure(st *Stage) ([]Figure, error) {
	s := st.study
	panels, seen, err := filterPanels(st)
	if err != nil {
		return nil, err
	}
	if len(panels) == 0 {
		return nil, nil
	}
	f := s.panelsFigure("filters", "Convolution filter statistics ("+st.ID+")",
		"Stage "+st.ID+": per Conv layer's 3×3 kernels, the fraction of sparse filters (all |w| < 1% of the layer's max), "+
			"the variance entropy of their SVD spectrum and the orthogonality of the output-channel kernels; each axis spans "+
			"the statistic's whole range.",
		panels, len(panels), s.modelLegend(func(m string) bool { return seen[m] }, nil, true, true))
	for _, fs := range filterStats {
		f.Metrics = append(f.Metrics, fs.metric)
	}
	return []Figure{f}, nil
}

// filterPanels are the panels of the filter statistics the stage has, and the models that have them.
func filterPanels(st *Stage) ([]panel, map[string]bool, error) {
	s, rows := st.study, st.Rows
	var panels []panel
	seen := map[string]bool{}
	for _, fs := range filterStats {
		c, err := depthCurves(rows, fs.metric)
		if err != nil {
			return nil, nil, err
		}
		if len(c) == 0 {
			continue
		}
		for m := range c {
			seen[m] = true
		}
		panels = append(panels, panel{Title: fs.title, XLabel: "relative depth of the layer", YLabel: fs.yLabel,
			Series: s.lines(c), XSpan: unit, YSpan: fs.span})
	}
	return panels, seen, nil
}
