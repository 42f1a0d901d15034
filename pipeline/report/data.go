package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot/plotter"

	"github.com/vistudy/vistudy/arrowio"
)

// study is the report's view of the rows: by stage, with every model's look fixed once.
type study struct {
	byStage map[string][]arrowio.Result
	models  []string        // sorted; index = look
	looks   map[string]look // model → colour, marker, line
	classes int             // classes the models predict among (0: unknown): chance levels
}

// newStudy groups rows by stage and gives each model its look.
func newStudy(rows []arrowio.Result) *study {
	s := &study{byStage: map[string][]arrowio.Result{}, looks: map[string]look{}}
	seen := map[string]bool{}
	for _, r := range rows {
		s.byStage[r.Stage] = append(s.byStage[r.Stage], r)
		seen[r.Model] = true
	}
	s.models = slices.Sorted(maps.Keys(seen))
	for i, m := range s.models {
		s.looks[m] = lookOf(i)
	}
	return s
}

// xFunc reads a row's x coordinate from its parsed group; false skips the row.
type xFunc func(g map[string]string) (float64, bool)

// keyOnly reads x from key in groups that have exactly that one key.
func keyOnly(key string) xFunc {
	return func(g map[string]string) (float64, bool) {
		v, ok := g[key]
		if !ok || len(g) != 1 {
			return 0, false
		}
		x, err := strconv.ParseFloat(v, 64)
		return x, err == nil
	}
}

// curves collects per model the (x, value) points of metric, x from each row's group, sorted by x;
// non-finite values are left out (a plot cannot place them).
func curves(rows []arrowio.Result, metric string, x xFunc) (map[string]plotter.XYs, error) {
	out := map[string]plotter.XYs{}
	for _, r := range rows {
		if r.Metric != metric || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("stage %s, model %s, metric %s: %w", r.Stage, r.Model, r.Metric, err)
		}
		if xv, ok := x(g); ok {
			out[r.Model] = append(out[r.Model], plotter.XY{X: xv, Y: r.Value})
		}
	}
	for _, xys := range out {
		slices.SortStableFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	}
	return out, nil
}

// overall returns per model the value of metric in its row with the empty group.
func overall(rows []arrowio.Result, metric string) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rows {
		if r.Metric == metric && r.Group == "" {
			out[r.Model] = r.Value
		}
	}
	return out
}

// sweepKey returns the single numeric key that every non-empty group of metric's rows has, if there is one.
func sweepKey(rows []arrowio.Result, metric string) (string, bool) {
	key := ""
	for _, r := range rows {
		if r.Metric != metric || r.Group == "" {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil || len(g) != 1 {
			return "", false
		}
		for k, v := range g {
			if _, err := strconv.ParseFloat(v, 64); err != nil || key != "" && k != key {
				return "", false
			}
			key = k
		}
	}
	return key, key != ""
}

// layerValue is one model's statistic at one layer.
type layerValue struct {
	Layer string
	Depth float64 // relative depth in [0, 1]
	Value float64
}

// layerValues collects per model the values of metric over groups layer=<name>,depth=<rel>, by depth.
func layerValues(rows []arrowio.Result, metric string) (map[string][]layerValue, error) {
	out := map[string][]layerValue{}
	for _, r := range rows {
		if r.Metric != metric {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("stage %s, model %s, metric %s: %w", r.Stage, r.Model, r.Metric, err)
		}
		layer, ok := g["layer"]
		if !ok {
			continue
		}
		depth, err := strconv.ParseFloat(g["depth"], 64)
		if err != nil {
			return nil, fmt.Errorf("stage %s, model %s, metric %s: group %q: depth is not a number", r.Stage, r.Model, r.Metric, r.Group)
		}
		out[r.Model] = append(out[r.Model], layerValue{Layer: layer, Depth: depth, Value: r.Value})
	}
	for _, vs := range out {
		slices.SortStableFunc(vs, func(a, b layerValue) int { return cmp.Or(cmp.Compare(a.Depth, b.Depth), cmp.Compare(a.Layer, b.Layer)) })
	}
	return out, nil
}

// depthXYs turns layer values into (depth, value) points, leaving out non-finite values.
func depthXYs(vs []layerValue) plotter.XYs {
	var out plotter.XYs
	for _, v := range vs {
		if !math.IsNaN(v.Value) && !math.IsInf(v.Value, 0) {
			out = append(out, plotter.XY{X: v.Depth, Y: v.Value})
		}
	}
	return out
}
