package report

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/arrowio"
)

func init() {
	RegisterFigure("criticality-heatmap", criticalityHeatmap)
	RegisterFigure("divergence", divergenceFigure)
}

// noValue is the colour of heat map cells without a value.
var noValue = color.Gray{0xe8}

// sequential is a viridis-like colour map whose luminance rises linearly with the value.
func sequential(lo, hi float64) (palette.ColorMap, error) {
	cm, err := moreland.NewLuminance([]color.Color{
		color.NRGBA{0x44, 0x01, 0x54, 0xff}, color.NRGBA{0x3b, 0x52, 0x8b, 0xff}, color.NRGBA{0x21, 0x91, 0x8c, 0xff},
		color.NRGBA{0x5e, 0xc9, 0x62, 0xff}, color.NRGBA{0xfd, 0xe7, 0x25, 0xff},
	})
	if err != nil {
		return nil, err
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5 // a single value still needs a scale
	}
	cm.SetMin(lo)
	cm.SetMax(hi)
	return cm, nil
}

// matrix is a heat map's data: Z[r][c] for the row labelled Rows[r] (top first) and column Cols[c]; NaN: none.
type matrix struct {
	Rows, Cols []string
	Z          [][]float64
	Span       *[2]float64 // values the colour scale covers besides the data (the [0, 1] of fractions); nil: the data's range
}

// valueRange is the smallest and largest finite value, ok false when there is none.
func (mx matrix) valueRange() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, row := range mx.Z {
		for _, v := range row {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	return lo, hi, lo <= hi
}

// heatmapFigure draws mx as coloured cells with a colour bar on the right; annotate writes each value in its cell.
func heatmapFigure(file, title, caption, xLabel, yLabel, scaleLabel string, mx matrix, annotate bool) (Figure, bool) {
	lo, hi, ok := mx.valueRange()
	if !ok {
		return Figure{}, false
	}
	if mx.Span != nil {
		lo, hi = min(lo, mx.Span[0]), max(hi, mx.Span[1])
	}
	tick := textStyle(tickSize)
	var rowW, colW vg.Length
	for _, r := range mx.Rows {
		rowW = max(rowW, tick.Width(r))
	}
	for _, c := range mx.Cols {
		colW = max(colW, tick.Width(c))
	}
	cellW, cellH := 0.55*vg.Inch, 0.22*vg.Inch
	if annotate {
		cellH = 0.4 * vg.Inch
	}
	rotate := colW > cellW
	colH := tick.Height("X")
	if rotate {
		colH = colW*0.5 + tick.Height("X") // labels at 30°
	}
	w := max(rowW+vg.Length(len(mx.Cols))*cellW+2.4*vg.Inch, 5*vg.Inch)
	h := max(colH+vg.Length(len(mx.Rows))*cellH+1.4*vg.Inch, 3.5*vg.Inch)
	return Figure{File: file, Title: title, Caption: caption, W: w, H: h, Draw: func(dc draw.Canvas) error {
		cm, err := sequential(lo, hi)
		if err != nil {
			return err
		}
		bar := newPlot("", "", scaleLabel)
		bar.HideX()
		bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
		barC := dc
		barC.Min.X = dc.Max.X - 1.2*vg.Inch
		barC.Max.X = dc.Max.X - 0.45*vg.Inch
		barC.Max.Y -= vg.Points(30)
		barC.Min.Y += colH + vg.Points(30)
		bar.Draw(barC)

		p := newPlot(title, xLabel, yLabel)
		n := len(mx.Rows)
		for r, row := range mx.Z {
			for c, v := range row {
				fill := color.Color(noValue)
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					if fill, err = cm.At(v); err != nil {
						return fmt.Errorf("colour of %v: %w", v, err)
					}
				}
				y := float64(n - 1 - r)
				if err := addBar(p, float64(c)-0.5, float64(c)+0.5, y-0.5, y+0.5, fill, color.White); err != nil {
					return err
				}
			}
		}
		if annotate {
			if err := annotateCells(p, mx, lo, hi); err != nil {
				return err
			}
		}
		rows := slices.Clone(mx.Rows)
		slices.Reverse(rows)
		p.NominalX(mx.Cols...)
		p.NominalY(rows...)
		p.X.Padding, p.Y.Padding = 0, 0 // labels sit at the cells, not half a label away
		if rotate {
			p.X.Tick.Label.Rotation = math.Pi / 6
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
		main := dc
		main.Max.X = barC.Min.X - vg.Points(6)
		p.Draw(main)
		return nil
	}}, true
}

// annotateCells writes each finite value into its cell, dark on light cells and light on dark ones.
func annotateCells(p *plot.Plot, mx matrix, lo, hi float64) error {
	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	n := len(mx.Rows)
	for r, row := range mx.Z {
		for c, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			labels = append(labels, fmt.Sprintf("%.3g", v))
			sty := textStyle(tickSize)
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
			if hi > lo && (v-lo)/(hi-lo) < 0.55 {
				sty.Color = color.White // the low end of the map is dark
			}
			styles = append(styles, sty)
		}
	}
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	l.TextStyle = styles
	p.Add(l)
	return nil
}

// criticalityHeatmap is the layer × model table of criticality, layers by depth from the top.
func criticalityHeatmap(st *Stage) ([]Figure, error) {
	s, rows := st.study, st.Rows
	vals, err := layerValues(rows, "criticality")
	if err != nil || len(vals) == 0 {
		return nil, err
	}
	depth := map[string]float64{}
	cell := map[[2]string]float64{}
	var cols []string
	for _, m := range s.models {
		if len(vals[m]) == 0 {
			continue
		}
		cols = append(cols, m)
		for _, v := range vals[m] {
			if d, ok := depth[v.Layer]; !ok || v.Depth < d {
				depth[v.Layer] = v.Depth
			}
			cell[[2]string{v.Layer, m}] = v.Value
		}
	}
	layers := slices.SortedFunc(maps.Keys(depth), func(a, b string) int {
		return cmp.Or(cmp.Compare(depth[a], depth[b]), strings.Compare(a, b))
	})
	mx := fill(layers, cols, cell, nil)
	f, ok := heatmapFigure("criticality-heatmap", "Layer criticality by model ("+st.ID+")",
		"Stage "+st.ID+": criticality (%) of each layer (rows, input at the top) for each model (columns); grey: layer absent.",
		"model", "layer", "criticality (%)", mx, len(layers)*len(cols) <= 150)
	if !ok {
		return nil, nil
	}
	f.Metrics = []string{"criticality"}
	return []Figure{f}, nil
}

// divergenceFigure is the model × model matrix of the filter-distribution divergence rows (group other=<model>).
func divergenceFigure(st *Stage) ([]Figure, error) {
	rows := st.Rows
	cell := map[[2]string]float64{}
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Metric != "divergence" {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", r.Model, err)
		}
		other, ok := g["other"]
		if !ok || len(g) != 1 {
			continue
		}
		cell[[2]string{r.Model, other}] = r.Value
		seen[r.Model], seen[other] = true, true
	}
	if len(cell) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(seen))
	f, ok := heatmapFigure("divergence", "Filter distribution divergence ("+st.ID+")",
		"Stage "+st.ID+": symmetric KL divergence between the models' filter distributions, summed over the 9 PCA "+
			"components weighted by explained variance; grey: not computed.",
		"other model", "model", "divergence (nats)", fill(names, names, cell, nil), len(names) <= 12)
	if !ok {
		return nil, nil
	}
	f.Metrics = []string{"divergence"}
	return []Figure{f}, nil
}

// fill lays cell values (keyed row, column) out as a matrix, NaN where absent.
func fill(rows, cols []string, cell map[[2]string]float64, span *[2]float64) matrix {
	mx := matrix{Rows: rows, Cols: cols, Z: make([][]float64, len(rows)), Span: span}
	for r, rn := range rows {
		mx.Z[r] = make([]float64, len(cols))
		for c, cn := range cols {
			v, ok := cell[[2]string{rn, cn}]
			if !ok {
				v = math.NaN()
			}
			mx.Z[r][c] = v
		}
	}
	return mx
}
