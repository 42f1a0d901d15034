package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/plugins/sdk"
)

func init() {
	RegisterFigure(sdk.FigureReliability, reliabilityFigure)
}

// gapColour fills the difference between a bin's accuracy and its mean confidence.
var gapColour = color.NRGBA{R: 0xe1, G: 0x57, B: 0x59, A: 0x70}

// reliabilityFigure draws one reliability diagram per model from the calibration metric's bin rows.
func reliabilityFigure(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	accs, err := curves(rows, "bin_accuracy", keyOnly("bin"))
	if err != nil {
		return nil, err
	}
	confs, err := curves(rows, "bin_confidence", keyOnly("bin"))
	if err != nil {
		return nil, err
	}
	counts, err := curves(rows, "bin_count", keyOnly("bin"))
	if err != nil {
		return nil, err
	}
	if len(accs) == 0 {
		return nil, nil
	}
	// The bins are equal-width on [0, 1]; their number is the highest bin index + 1.
	bins := 0.0
	for _, c := range []map[string]plotter.XYs{accs, confs, counts} {
		for _, xys := range c {
			for _, xy := range xys {
				bins = math.Max(bins, xy.X+1)
			}
		}
	}
	ece := overall(rows, "ece")
	var panels []panel
	for _, m := range s.models {
		if len(accs[m]) == 0 {
			continue
		}
		title := m
		if e, ok := ece[m]; ok {
			title = fmt.Sprintf("%s — ECE %.4f", m, e)
		}
		conf := map[float64]float64{}
		for _, xy := range confs[m] {
			conf[xy.X] = xy.Y
		}
		empty := map[float64]bool{}
		for _, xy := range counts[m] {
			empty[xy.X] = xy.Y == 0
		}
		lk := s.looks[m]
		panels = append(panels, panel{Title: title, XLabel: "confidence (max softmax probability)", YLabel: "accuracy",
			XSpan: unit, YSpan: unit,
			Setup: func(p *plot.Plot) error {
				for _, xy := range accs[m] {
					if empty[xy.X] {
						continue
					}
					lo, hi := xy.X/bins, (xy.X+1)/bins
					if err := addBar(p, lo, hi, 0, xy.Y, lk.Color, color.Gray{0x30}); err != nil {
						return err
					}
					if c, ok := conf[xy.X]; ok {
						if err := addBar(p, lo, hi, xy.Y, c, gapColour, nil); err != nil {
							return err
						}
					}
				}
				return referenceLine(p, plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
			}})
	}
	cols := min(len(panels), 3)
	f := s.panelsFigure("reliability", "Reliability diagrams ("+st.ID+")",
		fmt.Sprintf("Stage %s: samples binned by confidence into %d equal-width bins; bars: accuracy per bin, shaded: gap to the "+
			"bin's mean confidence, dashed: perfect calibration; ECE = Σ_b (n_b/N)·|acc_b − conf_b|.", st.ID, int(bins)),
		panels, cols, nil)
	f.W = vg.Length(cols) * 3.8 * vg.Inch // square-ish panels: both axes span [0, 1]
	f.Metrics = []string{"bin_accuracy", "bin_confidence", "bin_count", "ece"}
	return []Figure{f}, nil
}

// addBar fills the rectangle [lo, hi] × [y0, y1] (outlined when edge is not nil).
func addBar(p *plot.Plot, lo, hi, y0, y1 float64, fill color.Color, edge color.Color) error {
	bar, err := plotter.NewPolygon(plotter.XYs{{X: lo, Y: y0}, {X: hi, Y: y0}, {X: hi, Y: y1}, {X: lo, Y: y1}})
	if err != nil {
		return err
	}
	bar.Color = fill
	bar.LineStyle = draw.LineStyle{}
	if edge != nil {
		bar.LineStyle = draw.LineStyle{Color: edge, Width: vg.Points(0.5)}
	}
	p.Add(bar)
	return nil
}
