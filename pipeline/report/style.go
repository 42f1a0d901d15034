package report

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// sans is the typeface of every text in the figures (Liberation Sans ships inside gonum/plot).
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// The text sizes, in points.
const (
	titleSize  = 13
	labelSize  = 11
	tickSize   = 9.5
	legendSize = 10
)

// palette10 is Tableau 10: distinct hues for up to ten models, then markers and dashes take over.
var palette10 = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

// greyRef is the colour of reference lines (diagonals, chance levels).
var greyRef = color.Gray{0x88}

// glyphs and dashes distinguish models whose colours repeat (model i uses glyph and dash i/10).
var (
	glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
		draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}}
	dashes = [][]vg.Length{nil, {vg.Points(5), vg.Points(2)}, {vg.Points(1.5), vg.Points(1.5)},
		{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}}
)

// look is a model's colour, marker and line style, the same in every figure of a report.
type look struct {
	Color color.RGBA
	Glyph draw.GlyphStyle
	Line  draw.LineStyle
}

// lookOf returns the look of the model at index i of the report's sorted model list.
func lookOf(i int) look {
	c := palette10[i%len(palette10)]
	k := i / len(palette10)
	return look{
		Color: c,
		Glyph: draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: glyphs[k%len(glyphs)]},
		Line:  draw.LineStyle{Color: c, Width: vg.Points(1.6), Dashes: dashes[k%len(dashes)]},
	}
}

// textStyle is a sans text style of size points.
func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

// newPlot makes a plot with the report's fonts, a title and axis labels (units in the label text).
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, titleSize)
	p.Title.Padding = vg.Points(6)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sans, labelSize)
		ax.Tick.Label.Font = font.From(sans, tickSize)
		ax.Tick.Length = vg.Points(4)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	return p
}

// addGrid draws light grid lines under the data.
func addGrid(p *plot.Plot) {
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xdd}
	g.Horizontal.Color = color.Gray{0xdd}
	p.Add(g)
}

// legendEntry is one line of a legend drawn beside the data.
type legendEntry struct {
	Model  string // the model the entry stands for ("" for other entries)
	Name   string
	Thumbs []plot.Thumbnailer
}

// beside draws the legend in a strip on the right of dc, top-aligned, and returns the rest of dc for the
// data: legends never cover data. With no entries dc is returned whole.
func beside(dc draw.Canvas, entries []legendEntry) draw.Canvas {
	if len(entries) == 0 {
		return dc
	}
	l := plot.NewLegend()
	l.TextStyle = textStyle(legendSize)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	for _, e := range entries {
		l.Add(e.Name, e.Thumbs...)
	}
	pad := vg.Points(10)
	w := l.Rectangle(dc).Size().X
	strip := dc
	strip.Min.X = dc.Max.X - w - pad
	strip.Max.X = dc.Max.X - pad/2
	strip.Max.Y = dc.Max.Y - vg.Points(30) // below the title line
	l.Draw(strip)
	rest := dc
	rest.Max.X = strip.Min.X - pad
	return rest
}

// thumbs is what a model's legend entry shows: its line, its marker, or both.
func thumbs(lk look, line, marker bool) []plot.Thumbnailer {
	var out []plot.Thumbnailer
	if line {
		l := &plotter.Line{LineStyle: lk.Line}
		out = append(out, l)
	}
	if marker {
		out = append(out, &plotter.Scatter{GlyphStyle: lk.Glyph})
	}
	return out
}

// legendWidth is how much room a legend of these names takes, for sizing a figure.
func legendWidth(names []string) vg.Length {
	if len(names) == 0 {
		return 0
	}
	sty := textStyle(legendSize)
	var w vg.Length
	for _, n := range names {
		w = max(w, sty.Width(n))
	}
	return w + vg.Points(20+5+25)
}

// legendHeight is how tall a legend of n entries is, for sizing a figure.
func legendHeight(n int) vg.Length {
	if n == 0 {
		return 0
	}
	return vg.Length(n)*(textStyle(legendSize).Height("Xg")+vg.Points(2)) + vg.Points(40)
}
