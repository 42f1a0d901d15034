package report

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// rect is a filled rectangle of an SVG figure, in points with y up.
type rect struct{ X0, X1, Y0, Y1 float64 }

var svgRect = regexp.MustCompile(`<path d="M([-\d.e]+),([-\d.e]+)L([-\d.e]+),([-\d.e]+)L([-\d.e]+),([-\d.e]+)L([-\d.e]+),([-\d.e]+)Z" style="fill:#([0-9A-F]{6})" />`)

// svgBars returns per fill colour (hex, upper case) the bars of an SVG figure, left to right: the
// rectangles whose bottom is the common baseline (legend swatches and cells elsewhere are left out).
func svgBars(t *testing.T, path string) map[string][]rect {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byColour := map[string][]rect{}
	bottoms := map[float64]int{}
	for _, m := range svgRect.FindAllStringSubmatch(string(data), -1) {
		var v [8]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(m[i+1], 64); err != nil {
				t.Fatal(err)
			}
		}
		r := rect{min(v[0], v[2], v[4], v[6]), max(v[0], v[2], v[4], v[6]), min(v[1], v[3], v[5], v[7]), max(v[1], v[3], v[5], v[7])}
		byColour[m[9]] = append(byColour[m[9]], r)
		bottoms[r.Y0]++
	}
	base, most := 0.0, 0
	for y, n := range bottoms {
		if n > most {
			base, most = y, n
		}
	}
	out := map[string][]rect{}
	for c, rs := range byColour {
		for _, r := range rs {
			if r.Y0 == base {
				out[c] = append(out[c], r)
			}
		}
		slices.SortFunc(out[c], func(a, b rect) int { return cmp.Compare(a.X0, b.X0) })
	}
	return out
}

// hex is a palette colour as SVG writes it.
func hex(i int) string {
	c := palette10[i]
	return fmt.Sprintf("%02X%02X%02X", c.R, c.G, c.B)
}

func TestBarsFigure(t *testing.T) {
	rows := []arrowio.Result{
		{Model: "a", Stage: "s", Metric: "v", Value: 0.5},
		{Model: "a", Stage: "s", Metric: "v", Group: "k=10", Value: 0.2},
		{Model: "a", Stage: "s", Metric: "v", Group: "k=2", Value: 0.8},
		{Model: "b", Stage: "s", Metric: "v", Group: "k=2", Value: 0.4},
		{Model: "b", Stage: "s", Metric: "v", Group: "k=10", Value: 0.6},
		{Model: "b", Stage: "s", Metric: "other", Group: "k=2", Value: 9}, // not the hint's metric
	}
	dir := t.TempDir()
	st := StageInfo{ID: "s", Kind: "measure", Plugin: "p", Figures: []sdk.Figure{{Kind: sdk.FigureBars, Metric: "v", Label: "value"}}}
	if err := Write(dir, []StageInfo{st}, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "s-bars-v.png")); err != nil {
		t.Fatal(err)
	}
	bars := svgBars(t, filepath.Join(dir, "s-bars-v.svg"))
	a, b := bars[hex(0)], bars[hex(1)]
	// x order: overall, k=2, k=10 (numeric); heights in proportion to the values.
	want := map[string][]float64{"a": {0.5, 0.8, 0.2}, "b": {0.4, 0.6}}
	if len(a) != 3 || len(b) != 2 {
		t.Fatalf("bars: %d of a, %d of b; want 3 and 2 (%v)", len(a), len(b), bars)
	}
	unit := (a[1].Y1 - a[1].Y0) / 0.8
	for m, rs := range map[string][]rect{"a": a, "b": b} {
		for i, r := range rs {
			if got := (r.Y1 - r.Y0) / unit; math.Abs(got-want[m][i]) > 1e-3 {
				t.Errorf("model %s, bar %d: height %.4f of a unit, want %v", m, i, got, want[m][i])
			}
		}
	}
	if !(a[1].X1 <= b[0].X0 && b[0].X1 <= a[2].X0 && a[2].X1 <= b[1].X0) {
		t.Errorf("bars of group k=2 (a %v, b %v) and k=10 (a %v, b %v) are not side by side in group order", a[1], b[0], a[2], b[1])
	}
}

func TestOverallFigure(t *testing.T) {
	rows := []arrowio.Result{
		{Model: "a", Stage: "s", Metric: "count", Value: 4},
		{Model: "b", Stage: "s", Metric: "count", Value: 5},
		{Model: "a", Stage: "s", Metric: "count", Group: "x=1", Value: 100}, // grouped: not drawn
	}
	dir := t.TempDir()
	if err := Write(dir, []StageInfo{{ID: "s", Kind: "measure", Plugin: "thirdparty"}}, rows); err != nil {
		t.Fatal(err)
	}
	bars := svgBars(t, filepath.Join(dir, "s-overall.svg"))
	a, b := bars[hex(0)], bars[hex(1)]
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("bars %v, want one per model", bars)
	}
	if r := (a[0].Y1 - a[0].Y0) / (b[0].Y1 - b[0].Y0); math.Abs(r-0.8) > 1e-3 {
		t.Errorf("height of a / height of b = %.4f, want 4/5", r)
	}
}

func TestGenericKinds(t *testing.T) {
	add := func(rows []arrowio.Result, model, metric, group string, v float64) []arrowio.Result {
		return append(rows, arrowio.Result{Model: model, Stage: "s", Metric: metric, Group: group, Value: v, N: 10})
	}
	var rows []arrowio.Result
	for i, m := range []string{"a", "b"} {
		rows = add(rows, m, "acc", "", 0.9)
		for _, sd := range []float64{0, 0.1, 0.2} {
			rows = add(rows, m, "acc", fmt.Sprintf("sd=%g", sd), 0.9-sd-0.1*float64(i))
			rows = add(rows, m, "loss", fmt.Sprintf("sd=%g", sd), 1.5+sd)
		}
	}
	var heat []arrowio.Result
	for _, m := range []string{"a", "b"} {
		for band := range 3 {
			heat = add(heat, m, "v", fmt.Sprintf("band=%d", band), float64(band))
			for _, sd := range []string{"0.1", "0.2"} {
				heat = add(heat, m, "w", fmt.Sprintf("sd=%s,band=%d", sd, band), float64(band))
			}
		}
	}
	for _, tc := range []struct {
		name    string
		figures []sdk.Figure
		rows    []arrowio.Result
		want    []string // figure files
		html    string   // index.html contains
	}{
		{"none draws nothing", []sdk.Figure{{Kind: sdk.FigureNone}}, rows, nil, "No stage of this run"},
		{"undeclared: overall", nil, rows, []string{"s-overall"}, "its component declares no figure"},
		{"unknown kind: a note and overall", []sdk.Figure{{Kind: "violin"}}, rows, []string{"s-overall"}, `kind &#34;violin&#34;, which this report does not draw`},
		{"sweep of each metric", []sdk.Figure{{Kind: sdk.FigureSweep}}, rows, []string{"s-sweep-acc-sd", "s-sweep-loss-sd"}, "Loss vs sd (s)"},
		{"sweep of one metric", []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "loss", Label: "cross-entropy"}}, rows, []string{"s-sweep-sd"}, "Cross-entropy vs sd (s)"},
		{"two kinds in order", []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "acc"}, {Kind: sdk.FigureBars, Metric: "acc"}}, rows, []string{"s-sweep-sd", "s-bars-acc"}, ""},
		{"heat maps of one and two keys", []sdk.Figure{{Kind: sdk.FigureHeatmap}}, heat, []string{"s-heatmap-v", "s-heatmap-w-a", "s-heatmap-w-b"}, "V by band and model (s)"},
		{"reliability without bins", []sdk.Figure{{Kind: sdk.FigureReliability}}, rows, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, []StageInfo{{ID: "s", Kind: "measure", Plugin: "p", Figures: tc.figures}}, tc.rows); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			want = []string{"index.html"}
			for _, f := range tc.want {
				want = append(want, f+".csv", f+".png", f+".svg")
				checkSVG(t, filepath.Join(dir, f+".svg"))
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("files %v, want %v", got, want)
			}
			page, err := os.ReadFile(filepath.Join(dir, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			html := string(page)
			if !strings.Contains(html, tc.html) {
				t.Errorf("index.html does not contain %q", tc.html)
			}
			// Figures appear in the order of the hints.
			last := -1
			for _, f := range tc.want {
				i := strings.Index(html, `<figure id="`+f+`">`)
				if i < last {
					t.Errorf("figure %s is out of order in index.html", f)
				}
				last = i
			}
		})
	}
}

func TestHeatMaps(t *testing.T) {
	nan := math.NaN()
	rows := []arrowio.Result{
		{Model: "b", Metric: "v", Group: "k=10", Value: 3},
		{Model: "a", Metric: "v", Group: "k=2", Value: 1},
		{Model: "a", Metric: "v", Group: "k=10", Value: 2},
		{Model: "a", Metric: "v", Value: 7}, // overall: not a cell
		{Model: "a", Metric: "w", Group: "y=q,x=1", Value: 4},
		{Model: "a", Metric: "w", Group: "x=0,y=p", Value: 5},
		{Model: "b", Metric: "mixed", Group: "x=0", Value: 1},
		{Model: "b", Metric: "mixed", Group: "y=0", Value: 1}, // groups of different keys: no heat map
	}
	st := &Stage{StageInfo: StageInfo{ID: "s"}, Rows: rows, study: newStudy(rows)}
	hms, err := heatMaps(st)
	if err != nil {
		t.Fatal(err)
	}
	want := []heatMap{
		{File: "heatmap-v", Matrix: matrix{Rows: []string{"2", "10"}, Cols: []string{"a", "b"}, Z: [][]float64{{1, nan}, {2, 3}}}},
		{File: "heatmap-w-a", Matrix: matrix{Rows: []string{"0", "1"}, Cols: []string{"p", "q"}, Z: [][]float64{{5, nan}, {nan, 4}}}},
	}
	if len(hms) != len(want) {
		t.Fatalf("%d heat maps, want %d: %+v", len(hms), len(want), hms)
	}
	for i, w := range want {
		g := hms[i]
		if g.File != w.File || !slices.Equal(g.Matrix.Rows, w.Matrix.Rows) || !slices.Equal(g.Matrix.Cols, w.Matrix.Cols) ||
			fmt.Sprint(g.Matrix.Z) != fmt.Sprint(w.Matrix.Z) {
			t.Errorf("heat map %d = %s %+v, want %s %+v", i, g.File, g.Matrix, w.File, w.Matrix)
		}
	}
}

func TestSortGroups(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"k=10", "", "k=2", "k=1.5"}, []string{"", "k=1.5", "k=2", "k=10"}},
		{[]string{"c=dog", "c=cat", "c=10"}, []string{"c=10", "c=cat", "c=dog"}},
		{[]string{"band=1,sd=0.2", "band=0,sd=0.4", "band=0,sd=0.1"}, []string{"band=0,sd=0.1", "band=0,sd=0.4", "band=1,sd=0.2"}},
	} {
		if got := sortGroups(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("sortGroups(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
