package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one model's data in a panel, drawn as a line, as markers, or both, in the model's look.
type series struct {
	Model        string
	XYs          plotter.XYs
	Line, Points bool
	Err          plotter.YErrors // per point, the distances down and up to its 95% interval; nil: none
	XErr         plotter.XErrors // per point, the distances left and right to its 95% interval; nil: none
}

// xErrBars are points with their horizontal error bars.
type xErrBars struct {
	plotter.XYs
	plotter.XErrors
}

// errBars are points with their vertical error bars.
type errBars struct {
	plotter.XYs
	plotter.YErrors
}

// panel is one plot of per-model series.
type panel struct {
	Title, XLabel, YLabel string
	Series                []series
	Setup                 func(p *plot.Plot) error // ticks, reference lines; runs before the series are added
	XSpan, YSpan          *[2]float64              // ranges the axes include besides the data
}

// Panel geometry, in inches: the data part of one panel and the minimum figure height.
const (
	panelW = 4.6
	panelH = 3.6
)

// modelLegend lists the models that have data, in report order, labelled by label (the model name when absent).
func (s *study) modelLegend(has func(m string) bool, label map[string]string, line, marker bool) []legendEntry {
	var out []legendEntry
	for _, m := range s.models {
		if !has(m) {
			continue
		}
		name := m
		if l, ok := label[m]; ok {
			name = l
		}
		out = append(out, legendEntry{Model: m, Name: name, Thumbs: thumbs(s.looks[m], line, marker)})
	}
	return out
}

// panelsFigure lays panels out in a grid of cols columns, with the legend to the right of all of them.
func (s *study) panelsFigure(file, title, caption string, panels []panel, cols int, legend []legendEntry) Figure {
	rows := (len(panels) + cols - 1) / cols
	names := make([]string, len(legend))
	for i, e := range legend {
		names[i] = e.Name
	}
	w := vg.Length(cols)*panelW*vg.Inch + legendWidth(names)
	h := max(vg.Length(rows)*panelH*vg.Inch, legendHeight(len(legend)))
	return Figure{File: file, Title: title, Caption: caption, W: w, H: h, Draw: func(dc draw.Canvas) error {
		area := beside(dc, legend)
		grid := make([][]*plot.Plot, rows)
		for r := range grid {
			grid[r] = make([]*plot.Plot, cols)
		}
		for i, pn := range panels {
			p, err := s.panelPlot(pn)
			if err != nil {
				return fmt.Errorf("panel %q: %w", pn.Title, err)
			}
			grid[i/cols][i%cols] = p
		}
		// Plain tiles rather than plot.Align: Align shifts a panel whose glyphs touch the axis range
		// (seen as a title dropped by ~20 pt); tiles keep every title on one line.
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(18),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
		for r := range grid {
			for c, p := range grid[r] {
				if p != nil {
					p.Draw(tiles.At(area, c, r))
				}
			}
		}
		return nil
	}}
}

// panelPlot builds one panel's plot.
func (s *study) panelPlot(pn panel) (*plot.Plot, error) {
	p := newPlot(pn.Title, pn.XLabel, pn.YLabel)
	addGrid(p)
	if pn.Setup != nil {
		if err := pn.Setup(p); err != nil {
			return nil, err
		}
	}
	for _, sr := range pn.Series {
		if len(sr.XYs) == 0 {
			continue
		}
		lk := s.looks[sr.Model]
		if sr.Line {
			l, err := plotter.NewLine(sr.XYs)
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", sr.Model, err)
			}
			l.LineStyle = lk.Line
			p.Add(l)
		}
		if len(sr.Err) == len(sr.XYs) {
			eb, err := plotter.NewYErrorBars(errBars{sr.XYs, sr.Err})
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", sr.Model, err)
			}
			eb.LineStyle = draw.LineStyle{Color: lk.Color, Width: vg.Points(0.9)}
			eb.CapWidth = vg.Points(4)
			p.Add(eb)
		}
		if len(sr.XErr) == len(sr.XYs) {
			eb, err := plotter.NewXErrorBars(xErrBars{sr.XYs, sr.XErr})
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", sr.Model, err)
			}
			eb.LineStyle = draw.LineStyle{Color: lk.Color, Width: vg.Points(0.9)}
			eb.CapWidth = vg.Points(4)
			p.Add(eb)
		}
		if sr.Points {
			sc, err := plotter.NewScatter(sr.XYs)
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", sr.Model, err)
			}
			sc.GlyphStyle = lk.Glyph
			p.Add(sc)
		}
	}
	include(&p.X, pn.XSpan)
	include(&p.Y, pn.YSpan)
	return p, nil
}

// include widens an axis to cover span as well as the data.
func include(ax *plot.Axis, span *[2]float64) {
	if span != nil {
		ax.Min, ax.Max = min(ax.Min, span[0]), max(ax.Max, span[1])
	}
}

// unit is the span of fractions and accuracies.
var unit = &[2]float64{0, 1}

// referenceLine draws a thin grey dashed line through the given points (a diagonal, a chance level).
func referenceLine(p *plot.Plot, xys plotter.XYs) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = refStyle
	p.Add(l)
	return nil
}

// refStyle is the line style of reference lines; refLegend is their legend entry.
var refStyle = draw.LineStyle{Color: greyRef, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}

// refLegend is a legend entry for a reference line.
func refLegend(name string) legendEntry {
	return legendEntry{Name: name, Thumbs: []plot.Thumbnailer{&plotter.Line{LineStyle: refStyle}}}
}

// labelledLine draws a reference line with a short text at its end point (a published value, chance).
func labelledLine(p *plot.Plot, xys plotter.XYs, text string, style draw.LineStyle) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = style
	p.Add(l)
	if text == "" {
		return nil
	}
	end := xys[len(xys)-1]
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{end}, Labels: []string{text}})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i] = textStyle(tickSize)
		lb.TextStyle[i].Color = style.Color
		lb.TextStyle[i].XAlign = draw.XRight
		lb.TextStyle[i].YAlign = draw.YBottom
	}
	lb.Offset = vg.Point{X: vg.Points(-2), Y: vg.Points(2)}
	p.Add(lb)
	return nil
}
