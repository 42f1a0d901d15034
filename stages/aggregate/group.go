package aggregate

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
)

// formatNumber renders a sweep value the way the pipeline writes sweep labels (shortest exact form).
func formatNumber(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// point is one model's value of a metric at one numeric setting of a sweep.
type point struct {
	X     float64
	Value float64
	N     int64
}

// inputParams returns a Check that every named parameter with a value names one of the inputs.
func inputParams(names ...string) func(p params.Values, inputs []string) error {
	return func(p params.Values, inputs []string) error {
		var bad []string
		for _, n := range names {
			if id := p.String(n); id != "" && !slices.Contains(inputs, id) {
				bad = append(bad, fmt.Sprintf("parameter %s: stage %q is not among the aggregate's inputs (%s)", n, id, strings.Join(inputs, ", ")))
			}
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "; "))
		}
		return nil
	}
}

// stageRows returns the rows of the stage named by parameter param, which must be one of the inputs.
func stageRows(param, id string, inputs []string, in Inputs) ([]arrowio.Result, error) {
	if id == "" {
		return nil, fmt.Errorf("parameter %s: no stage id given", param)
	}
	if !slices.Contains(inputs, id) {
		return nil, fmt.Errorf("parameter %s: stage %q is not among the aggregate's inputs (%s)", param, id, strings.Join(inputs, ", "))
	}
	rows := in[id]
	if len(rows) == 0 {
		return nil, fmt.Errorf("parameter %s: stage %q has no result rows", param, id)
	}
	return rows, nil
}

// overall returns, per model, the row of metric with the empty group (the stage's overall value).
func overall(stage string, rows []arrowio.Result, metric string) (map[string]arrowio.Result, error) {
	out := map[string]arrowio.Result{}
	for _, r := range rows {
		if r.Metric != metric || r.Group != "" {
			continue
		}
		if _, dup := out[r.Model]; dup {
			return nil, fmt.Errorf("stage %q: model %q has two overall %s rows", stage, r.Model, metric)
		}
		out[r.Model] = r
	}
	return out, nil
}

// parsedRow is a row with its group split into key=value pairs.
type parsedRow struct {
	arrowio.Result
	Keys map[string]string
}

// groupsOf returns the rows of metric with their groups parsed.
func groupsOf(stage string, rows []arrowio.Result, metric string) ([]parsedRow, error) {
	var out []parsedRow
	for _, r := range rows {
		if r.Metric != metric {
			continue
		}
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("stage %q, model %q: %w", stage, r.Model, err)
		}
		out = append(out, parsedRow{r, g})
	}
	return out, nil
}

// sweep returns, per model, the values of metric in rows whose group is exactly key=<number>,
// sorted by the number. Rows with other groups are not part of the sweep and are skipped.
func sweep(stage string, rows []arrowio.Result, metric, key string) (map[string][]point, error) {
	parsed, err := groupsOf(stage, rows, metric)
	if err != nil {
		return nil, err
	}
	out := map[string][]point{}
	for _, pr := range parsed {
		r, g := pr.Result, pr.Keys
		v, ok := g[key]
		if !ok || len(g) != 1 {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("stage %q, model %q: group %q: %s is not a number", stage, r.Model, r.Group, key)
		}
		out[r.Model] = append(out[r.Model], point{X: x, Value: r.Value, N: r.N})
	}
	for m, pts := range out {
		slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.X, b.X) })
		for i := 1; i < len(pts); i++ {
			if pts[i].X == pts[i-1].X {
				return nil, fmt.Errorf("stage %q: model %q has two %s rows at %s=%s", stage, m, metric, key, formatNumber(pts[i].X))
			}
		}
	}
	return out, nil
}

// models lists the union of the model names given (map keys), sorted, so that output order is deterministic.
func models(names ...iter.Seq[string]) []string {
	seen := map[string]bool{}
	for _, seq := range names {
		for m := range seq {
			seen[m] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// minN is the smallest sample count of the rows a derived value comes from (0 for none).
func minN(ns ...int64) int64 {
	if len(ns) == 0 {
		return 0
	}
	return slices.Min(ns)
}

// inRange reports whether x lies in [lo, hi], allowing for decimal labels that do not round-trip exactly.
func inRange(x, lo, hi float64) bool {
	const tol = 1e-9
	return x >= lo-tol*math.Max(1, math.Abs(lo)) && x <= hi+tol*math.Max(1, math.Abs(hi))
}
