package report

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/vistudy/vistudy/arrowio"
)

func init() {
	RegisterFigure("criticalband", criticalBandFigure)
}

// criticalBandFigure draws the criticalband aggregate: each model's threshold per band as markers and its
// fitted Gaussian as a line; a model whose fit failed gets markers only and says so in the legend.
func criticalBandFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	band := func(g map[string]string) (float64, bool) {
		v, ok := g["band"]
		if !ok || len(g) != 1 {
			return 0, false
		}
		f, err := strconv.Atoi(v)
		return float64(f), err == nil
	}
	th, err := curves(rows, "threshold", band)
	if err != nil {
		return nil, err
	}
	if len(th) == 0 {
		return nil, nil
	}
	a, mu, sigma := overall(rows, "fit_a"), overall(rows, "fit_mu"), overall(rows, "fit_sigma")
	bw, cf := overall(rows, "bandwidth"), overall(rows, "center_frequency")
	failed := map[string]bool{}
	reasons := map[string]string{} // model → why its fit failed
	for _, r := range rows {
		if r.Metric == "fit_failed" {
			failed[r.Model] = true
			g, _ := arrowio.ParseGroup(r.Group)
			reasons[r.Model] = cmp.Or(g["reason"], "no reason given")
		}
	}
	var ser []series
	label := map[string]string{}
	lo, hi, top := 0.0, 0.0, 4.0 // top: the 4 SDs of ANALYSES.md D, more when a study sweeps more
	for _, pts := range th {
		for _, xy := range pts {
			lo, hi, top = min(lo, xy.X), max(hi, xy.X), max(top, xy.Y)
		}
	}
	dodge := dodges(s, th)
	for _, m := range s.models {
		pts := th[m]
		if len(pts) == 0 {
			continue
		}
		shifted := make(plotter.XYs, len(pts))
		for i, xy := range pts {
			shifted[i] = plotter.XY{X: xy.X + dodge[m], Y: xy.Y}
		}
		ser = append(ser, series{Model: m, XYs: shifted, Points: true})
		_, hasA := a[m]
		_, hasMu := mu[m]
		_, hasSigma := sigma[m]
		if failed[m] || !hasA || !hasMu || !hasSigma {
			label[m] = m + " (fit failed: " + cmp.Or(reasons[m], "no fit parameters") + ")"
			continue
		}
		label[m] = fmt.Sprintf("%s (bw %.2f oct, cf %.3g c/img)", m, bw[m], cf[m])
		var fit plotter.XYs
		const steps = 120
		for i := range steps + 1 {
			x := lo - 0.3 + (hi-lo+0.6)*float64(i)/steps
			fit = append(fit, plotter.XY{X: x, Y: gaussian(a[m], mu[m], sigma[m], x)})
		}
		ser = append(ser, series{Model: m, XYs: fit, Line: true})
	}
	pn := panel{Title: "Critical band (" + st.ID + ")", XLabel: "noise band f (octaves; 0 = coarsest, centre 1.75·2^f cycles/image)",
		YLabel: "threshold: noise levels at or below criterion", Series: ser, YSpan: &[2]float64{0, top},
		Setup: func(p *plot.Plot) error {
			p.X.Tick.Marker = integerTicks(lo, hi)
			p.Y.Tick.Marker = integerTicks(0, top)
			return nil
		}}
	has := func(m string) bool { return len(th[m]) > 0 }
	entries := s.modelLegend(has, label, true, true)
	for i, e := range entries {
		if _, fitted := a[e.Model]; !fitted || failed[e.Model] {
			entries[i].Thumbs = thumbs(s.looks[e.Model], false, true)
		}
	}
	caption := "Stage " + st.ID + ": per octave band, the number of noise SDs (from the strongest) at which accuracy is at or below the " +
		"criterion (markers, nudged sideways per model); lines: least-squares Gaussian A·exp(−(f−μ)²/2σ²); " +
		"bw = 2·sqrt(ln 4)·σ octaves, cf = 1.75·2^μ cycles/image."
	if len(reasons) > 0 {
		var why []string
		for _, m := range s.models {
			if r, ok := reasons[m]; ok {
				why = append(why, m+": "+r)
			}
		}
		caption += " No Gaussian is drawn where the fit failed (" + strings.Join(why, "; ") + ")."
		for _, r := range reasons {
			if r == "all thresholds are 0" {
				caption += " All thresholds 0 means that even the strongest noise in no band brought accuracy down to the criterion: " +
					"the critical band is undefined at these noise levels (stronger noise, or a higher criterion, would measure it)."
				break
			}
		}
	}
	f := s.panelsFigure("criticalband", "Critical band ("+st.ID+")", caption, []panel{pn}, 1, entries)
	f.Metrics = []string{"threshold", "fit_a", "fit_mu", "fit_sigma", "fit_rmse", "bandwidth", "center_frequency", "peak_noise_sensitivity", "fit_failed"}
	return []Figure{f}, nil
}

// dodges spreads the models' markers a little along x so that equal integer thresholds stay visible.
func dodges(s *study, c map[string]plotter.XYs) map[string]float64 {
	var ms []string
	for _, m := range s.models {
		if len(c[m]) > 0 {
			ms = append(ms, m)
		}
	}
	step := min(0.08, 0.6/float64(max(len(ms), 1)))
	out := map[string]float64{}
	for i, m := range ms {
		out[m] = (float64(i) - float64(len(ms)-1)/2) * step
	}
	return out
}

// integerTicks labels every integer from lo to hi (bands and threshold counts are integers).
func integerTicks(lo, hi float64) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	for v := int(math.Ceil(lo)); v <= int(math.Floor(hi)); v++ {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	return ticks
}

// gaussian is the criticalband aggregate's fitted curve A·exp(−(x−μ)²/2σ²).
func gaussian(a, mu, sigma, x float64) float64 {
	d := x - mu
	return a * math.Exp(-d*d/(2*sigma*sigma))
}
