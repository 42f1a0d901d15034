package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func init() {
	RegisterFigure(figureOverall, overallFigure)
	RegisterFigure(sdk.FigureBars, barsFigure)
	RegisterFigure(sdk.FigureHeatmap, heatmapKind)
}

// Limits of the generic figures, so that a stage with many metrics or groups still gives a readable page.
const (
	maxPanels    = 12  // metrics drawn per figure
	maxBarGroups = 40  // groups (bar clusters) per bars panel
	maxHeatRows  = 300 // rows of a heat map
	maxAnnotated = 150 // heat maps with at most this many cells write their values
)

// finite reports whether v can be placed on a plot.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// overallFigure is the generic figure of a stage that declares none: per overall metric (group ""), a
// panel with one bar per model.
func overallFigure(st *Stage) ([]Figure, error) {
	vals := map[string]map[string]float64{} // metric → model → value
	for _, r := range st.Rows {
		if r.Group != "" || !finite(r.Value) {
			continue
		}
		if vals[r.Metric] == nil {
			vals[r.Metric] = map[string]float64{}
		}
		vals[r.Metric][r.Model] = r.Value
	}
	if len(vals) == 0 {
		return nil, nil
	}
	metrics := slices.Sorted(maps.Keys(vals))
	note := ""
	if len(metrics) > maxPanels {
		note = fmt.Sprintf(" The first %d of %d metrics, by name.", maxPanels, len(metrics))
		metrics = metrics[:maxPanels]
	}
	var panels []panel
	for _, metric := range metrics {
		var models []string
		for _, m := range st.Models() {
			if _, ok := vals[metric][m]; ok {
				models = append(models, m)
			}
		}
		panels = append(panels, panel{Title: metric, YLabel: metric, XSpan: &[2]float64{-0.5, float64(len(models)) - 0.5}, YSpan: &[2]float64{0, 0},
			Setup: func(p *plot.Plot) error {
				for i, m := range models {
					if err := addBar(p, float64(i)-0.4, float64(i)+0.4, 0, vals[metric][m], st.study.looks[m].Color, nil); err != nil {
						return err
					}
				}
				nominalX(p, models)
				return nil
			}})
	}
	cols := min(len(panels), 3)
	return []Figure{st.study.panelsFigure("overall", "Overall values ("+st.ID+")",
		"Stage "+st.ID+" ("+componentOf(st.StageInfo)+"): each overall value (rows with an empty group) per model; "+
			"its component declares no figure, so this is the generic one."+note,
		panels, cols, nil)}, nil
}

// barsFigure draws per metric (the hint's, or each of the stage's) one bar per model and group, the
// groups along x ("overall" for the empty group).
func barsFigure(st *Stage) ([]Figure, error) {
	var panels []panel
	has := map[string]bool{}
	skipped := 0
	for _, metric := range hintMetrics(st) {
		cell := map[[2]string]float64{} // (group, model) → value
		groups := map[string]bool{}
		for _, r := range st.Rows {
			if r.Metric == metric && finite(r.Value) {
				cell[[2]string{r.Group, r.Model}] = r.Value
				groups[r.Group] = true
				has[r.Model] = true
			}
		}
		if len(groups) == 0 {
			continue
		}
		if len(panels) == maxPanels {
			skipped++
			continue
		}
		order := sortGroups(slices.Collect(maps.Keys(groups)))
		note := ""
		if len(order) > maxBarGroups {
			note = fmt.Sprintf(" (first %d of %d groups)", maxBarGroups, len(order))
			order = order[:maxBarGroups]
		}
		var models []string
		for _, m := range st.Models() {
			for _, g := range order {
				if _, ok := cell[[2]string{g, m}]; ok {
					models = append(models, m)
					break
				}
			}
		}
		label := labelOf(st.Hint, metric)
		panels = append(panels, panel{Title: label + note, YLabel: label,
			XSpan: &[2]float64{-0.5, float64(len(order)) - 0.5}, YSpan: &[2]float64{0, 0},
			Setup: func(p *plot.Plot) error {
				w := 0.8 / float64(len(models)) // a cluster is 0.8 wide; bars keep a tenth of theirs apart
				for j, g := range order {
					for i, m := range models {
						v, ok := cell[[2]string{g, m}]
						if !ok {
							continue
						}
						lo := float64(j) - 0.4 + float64(i)*w
						if err := addBar(p, lo+0.05*w, lo+0.95*w, 0, v, st.study.looks[m].Color, nil); err != nil {
							return err
						}
					}
				}
				names := make([]string, len(order))
				for j, g := range order {
					names[j] = cmp.Or(g, "overall")
				}
				nominalX(p, names)
				return nil
			}})
	}
	if len(panels) == 0 {
		return nil, nil
	}
	caption := "Stage " + st.ID + " (" + componentOf(st.StageInfo) + "): each value per group (along x) and model (bars)."
	if skipped > 0 {
		caption += fmt.Sprintf(" %d more metrics are in results.parquet only.", skipped)
	}
	var legend []legendEntry
	for _, m := range st.Models() {
		if has[m] {
			legend = append(legend, legendEntry{Model: m, Name: m, Thumbs: []plot.Thumbnailer{&plotter.Polygon{Color: st.study.looks[m].Color}}})
		}
	}
	file := "bars"
	if st.Hint.Metric != "" {
		file += "-" + st.Hint.Metric
	}
	cols := min(len(panels), 2)
	title := "Values by group (" + st.ID + ")"
	if st.Hint.Metric != "" {
		title = capitalise(labelOf(st.Hint, st.Hint.Metric)) + " by group (" + st.ID + ")"
	}
	return []Figure{st.study.panelsFigure(file, title, caption, panels, cols, legend)}, nil
}

// heatmapKind draws per metric (the hint's, or each of the stage's) a heat map of its grouped rows:
// groups of one key give its values × models; groups of two keys give, per model, the first key's
// values (alphabetically) × the second's. Metrics with groups of other shapes are left out.
func heatmapKind(st *Stage) ([]Figure, error) {
	hms, err := heatMaps(st)
	if err != nil {
		return nil, err
	}
	var out []Figure
	for _, h := range hms {
		annotate := len(h.Matrix.Rows)*len(h.Matrix.Cols) <= maxAnnotated
		if f, ok := heatmapFigure(h.File, h.Title, h.Caption, h.XLabel, h.YLabel, h.Scale, h.Matrix, annotate); ok {
			f.Metrics = []string{h.Metric}
			if h.Model != "" {
				f.Data = []arrowio.Result{} // not nil: the model's rows only, not every model's
				for _, r := range st.Rows {
					if r.Metric == h.Metric && r.Model == h.Model {
						f.Data = append(f.Data, r)
					}
				}
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// heatMap is one generic heat map before it is drawn.
type heatMap struct {
	File, Title, Caption, XLabel, YLabel, Scale string
	Matrix                                      matrix
	Metric                                      string // the metric drawn
	Model                                       string // the one model drawn; "" for a map across models
}

// heatMaps lays out the heat maps heatmapKind draws.
func heatMaps(st *Stage) ([]heatMap, error) {
	var out []heatMap
	for _, metric := range hintMetrics(st) {
		keys, parsed, err := groupKeys(st.Rows, metric)
		if err != nil {
			return nil, err
		}
		label := labelOf(st.Hint, metric)
		// Fractions (accuracies, rates) are coloured on [0, 1], so that the maps of several models compare.
		span, sameScale := fractionSpan(st.Rows, metric), ""
		if span != nil {
			sameScale = " Colours span 0 to 1 in every model's map."
		}
		switch len(keys) {
		case 1:
			cell := map[[2]string]float64{}
			has := map[string]bool{}
			for i, r := range parsed.rows {
				cell[[2]string{parsed.groups[i][keys[0]], r.Model}] = r.Value
				has[r.Model] = true
			}
			var cols []string
			for _, m := range st.Models() {
				if has[m] {
					cols = append(cols, m)
				}
			}
			rows := sortValues(distinct(parsed.groups, keys[0]))
			if len(rows) > maxHeatRows {
				continue
			}
			out = append(out, heatMap{File: "heatmap-" + metric, Title: capitalise(label) + " by " + keys[0] + " and model (" + st.ID + ")",
				Caption: "Stage " + st.ID + ": " + label + " per " + keys[0] + " (rows) and model (columns); grey: no value.",
				XLabel:  "model", YLabel: keys[0], Scale: label, Matrix: fill(rows, cols, cell, span), Metric: metric})
		case 2:
			rows, cols := sortValues(distinct(parsed.groups, keys[0])), sortValues(distinct(parsed.groups, keys[1]))
			if len(rows) > maxHeatRows {
				continue
			}
			for _, m := range st.Models() {
				cell := map[[2]string]float64{}
				for i, r := range parsed.rows {
					if r.Model == m {
						cell[[2]string{parsed.groups[i][keys[0]], parsed.groups[i][keys[1]]}] = r.Value
					}
				}
				if len(cell) == 0 {
					continue
				}
				out = append(out, heatMap{File: "heatmap-" + metric + "-" + safeName(m), Title: capitalise(label) + " of " + m + " (" + st.ID + ")",
					Caption: "Stage " + st.ID + ", model " + m + ": " + label + " per " + keys[0] + " (rows) and " + keys[1] + " (columns); grey: no value." + sameScale,
					XLabel:  keys[1], YLabel: keys[0], Scale: label, Matrix: fill(rows, cols, cell, span), Metric: metric, Model: m})
			}
		}
	}
	return out, nil
}

// groupedRows are a metric's rows with a non-empty group and those groups parsed.
type groupedRows struct {
	rows   []arrowio.Result
	groups []map[string]string
}

// groupKeys returns the sorted keys that every non-empty group of metric's rows has (none when the
// groups differ in their keys), and those rows.
func groupKeys(rows []arrowio.Result, metric string) ([]string, groupedRows, error) {
	var out groupedRows
	var keys []string
	for _, r := range rows {
		if r.Metric != metric || r.Group == "" {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, out, fmt.Errorf("model %s, metric %s: %w", r.Model, metric, err)
		}
		k := slices.Sorted(maps.Keys(g))
		if keys == nil {
			keys = k
		} else if !slices.Equal(keys, k) {
			return nil, groupedRows{}, nil
		}
		out.rows = append(out.rows, r)
		out.groups = append(out.groups, g)
	}
	return keys, out, nil
}

// distinct lists the values key takes in groups.
func distinct(groups []map[string]string, key string) []string {
	seen := map[string]bool{}
	for _, g := range groups {
		seen[g[key]] = true
	}
	return slices.Collect(maps.Keys(seen))
}

// sortValues sorts group values numerically when all are numbers, else as strings.
func sortValues(vs []string) []string {
	nums := map[string]float64{}
	for _, v := range vs {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			slices.Sort(vs)
			return vs
		}
		nums[v] = x
	}
	slices.SortFunc(vs, func(a, b string) int { return cmp.Or(cmp.Compare(nums[a], nums[b]), strings.Compare(a, b)) })
	return vs
}

// sortGroups orders groups for the x axis: the empty group first, then by their values (numerically
// where a key's values are numbers), key by key.
func sortGroups(gs []string) []string {
	parsed := map[string]map[string]string{}
	for _, g := range gs {
		p, err := arrowio.ParseGroup(g)
		if err != nil {
			p = map[string]string{}
		}
		parsed[g] = p
	}
	slices.SortFunc(gs, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "":
			return -1
		case b == "":
			return 1
		}
		pa, pb := parsed[a], parsed[b]
		for _, k := range slices.Sorted(maps.Keys(pa)) {
			va, vb := pa[k], pb[k]
			xa, errA := strconv.ParseFloat(va, 64)
			xb, errB := strconv.ParseFloat(vb, 64)
			if errA == nil && errB == nil {
				if c := cmp.Compare(xa, xb); c != 0 {
					return c
				}
			} else if c := strings.Compare(va, vb); c != 0 {
				return c
			}
		}
		return strings.Compare(a, b)
	})
	return gs
}

// nominalX labels x positions 0, 1, ... with names, at 30° when one is wider than a bar cluster.
func nominalX(p *plot.Plot, names []string) {
	p.NominalX(names...)
	tick := textStyle(tickSize)
	for _, n := range names {
		if tick.Width(n) > 0.5*vg.Inch || len(names) > 8 {
			p.X.Tick.Label.Rotation = math.Pi / 6
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			return
		}
	}
}

// componentOf names the stage's component for a caption: kind and plugin.
func componentOf(st StageInfo) string {
	if st.Plugin == "" {
		return st.Kind
	}
	return st.Kind + " " + st.Plugin
}
