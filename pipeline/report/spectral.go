package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

func init() {
	RegisterFigure("spectral", spectralFigure)
}

// spectralFigure draws the spectralbias aggregate's ratio curves: low-pass and high-pass side by side.
func spectralFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	low, err := curves(rows, "lowpass_ratio", keyOnly("c"))
	if err != nil {
		return nil, err
	}
	high, err := curves(rows, "highpass_ratio", keyOnly("c"))
	if err != nil {
		return nil, err
	}
	if len(low)+len(high) == 0 {
		return nil, nil
	}
	bias := overall(rows, "spectral_bias")
	label := map[string]string{}
	for m, b := range bias {
		label[m] = fmt.Sprintf("%s (SB %.3f)", m, b)
	}
	chance := func(p *plot.Plot) error { return referenceLine(p, plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 1}}) }
	panels := []panel{
		{Title: "Low-pass", XLabel: "c: kept fraction of the spectrum (box half-size / half image size)",
			YLabel: "accuracy / clean accuracy", Series: s.lines(low), XSpan: unit, YSpan: unit, Setup: chance},
		{Title: "High-pass", XLabel: "c: about the outer fraction of the spectrum kept",
			YLabel: "accuracy / clean accuracy", Series: s.lines(high), XSpan: unit, YSpan: unit, Setup: chance},
	}
	has := func(m string) bool { return len(low[m])+len(high[m]) > 0 }
	f := s.panelsFigure("spectral", "Spectral bias ("+st.ID+")",
		"Stage "+st.ID+": accuracy on low- and high-pass filtered images divided by clean accuracy, per filter size c; "+
			"SB = HPP / (LPP + HPP) with LPP, HPP the mean ratios over the configured c range; dashed: clean accuracy (ratio 1).",
		panels, 2, s.modelLegend(has, label, true, true))
	f.Metrics = []string{"lowpass_ratio", "highpass_ratio", "lpp", "hpp", "spectral_bias"}
	return []Figure{f}, nil
}

// lines turns per-model curves into line-and-marker series in report order.
func (s *study) lines(c map[string]plotter.XYs) []series {
	var out []series
	for _, m := range s.models {
		if len(c[m]) > 0 {
			out = append(out, series{Model: m, XYs: c[m], Line: true, Points: true})
		}
	}
	return out
}
