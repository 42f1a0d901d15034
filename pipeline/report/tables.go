package report

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
)

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// wilson is the Wilson score 95% interval of a proportion p observed over n trials.
func wilson(p float64, n int64) (lo, hi float64) {
	if n <= 0 || math.IsNaN(p) {
		return math.NaN(), math.NaN()
	}
	nf := float64(n)
	z2 := z95 * z95
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, mid-half), min(1, mid+half)
}

// proportionMetric matches the metrics that are a fraction of n independent samples (accuracies, shape
// bias, the decision fractions), so that a Wilson interval is defined for them. Left out: fractions over
// repeated trials of the same samples (criticality's recovered accuracy) and minima over a sweep
// (solarization's min_accuracy), whose n would overstate the evidence.
var proportionMetric = regexp.MustCompile(`^(top\d+|accuracy|shape_bias|cue_accuracy|\w+_fraction|bin_accuracy)$`)

// hasCI reports whether r is a proportion of r.N samples, so that it gets a Wilson interval.
func hasCI(r arrowio.Result) bool {
	return r.N > 0 && proportionMetric.MatchString(r.Metric) && r.Value >= 0 && r.Value <= 1
}

// diagnosticMetric matches, for metrics their component does not declare, the overall metrics that
// describe the computation rather than the model: counts, fit parameters, exclusions.
var diagnosticMetric = regexp.MustCompile(`(_count|_undefined|^excluded|^unlabelled|^fit_(a|mu|sigma|rmse)|^layers|^bin_\w+)$`)

// isHeadline reports whether metric leads st's analysis table: what its component declares
// (sdk.MetricInfo.Diagnostic), else whether its name looks like a diagnostic.
func isHeadline(st StageInfo, metric string) bool {
	if d, ok := arrowio.Lookup(st.Metrics, metric); ok {
		return !d.Diagnostic
	}
	return !diagnosticMetric.MatchString(metric)
}

// analysisTable is one stage's overall numbers: models down, metrics across.
type analysisTable struct {
	Stage, Component string
	Headline         numTable
	Diagnostics      numTable // empty when the stage has none
	Figures          []Figure // the stage's figures, for links
	Note             string   // what to compare the numbers with (chance), "" when nothing
}

// numTable is a table of formatted cells with a header row.
type numTable struct {
	Columns []string
	Rows    []numRow
}

// numRow is one line of a numTable.
type numRow struct {
	Label string
	Cells []cell
}

// cellOf formats one result: value (and Wilson interval), n; a failed fit shows its reason.
func cellOf(r arrowio.Result) cell {
	if r.Metric == "fit_failed" {
		g, _ := arrowio.ParseGroup(r.Group)
		return cell{Value: "fit failed: " + cmp.Or(g["reason"], "no reason given"), Failed: true}
	}
	c := cell{Value: formatValue(r.Value)}
	if hasCI(r) {
		lo, hi := wilson(r.Value, r.N)
		c.CI = fmt.Sprintf("[%s, %s]", formatCI(lo), formatCI(hi))
	}
	if r.N > 0 {
		c.N = fmt.Sprintf("n=%d", r.N)
	}
	return c
}

// formatCI writes an interval bound with 3 decimals (a fraction).
func formatCI(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// analysisTables builds per stage (in study order, then stages not in the study by id) the table of its
// overall values, headline numbers apart from diagnostics. A failed fit (a grouped fit_failed row)
// counts as overall: it is the stage's answer for that model.
func analysisTables(s *study, stages []StageInfo) []analysisTable {
	infos := map[string]StageInfo{}
	var order []string
	for _, st := range stages {
		infos[st.ID] = st
		order = append(order, st.ID)
	}
	var extra []string
	for id := range s.byStage {
		if _, ok := infos[id]; !ok {
			extra = append(extra, id)
			infos[id] = StageInfo{ID: id}
		}
	}
	slices.Sort(extra)
	var out []analysisTable
	for _, id := range append(order, extra...) {
		st := infos[id]
		cells := map[string]map[string]cell{} // metric → model → cell
		for _, r := range s.byStage[id] {
			if r.Group != "" && r.Metric != "fit_failed" {
				continue
			}
			if cells[r.Metric] == nil {
				cells[r.Metric] = map[string]cell{}
			}
			cells[r.Metric][r.Model] = cellOf(r)
		}
		if len(cells) == 0 {
			continue
		}
		var head, diag []string
		for _, m := range slices.Sorted(maps.Keys(cells)) {
			if isHeadline(st, m) {
				head = append(head, m)
			} else {
				diag = append(diag, m)
			}
		}
		// The component's declaration order: the main number first.
		slices.SortStableFunc(head, func(a, b string) int { return cmp.Compare(declared(st, a), declared(st, b)) })
		at := analysisTable{Stage: id, Component: componentOf(st), Headline: s.modelTable(head, cells), Diagnostics: s.modelTable(diag, cells)}
		var chance []string
		for _, m := range head {
			if c, ok := chanceLevel(m, s.classes); ok {
				chance = append(chance, fmt.Sprintf("%s %s", m, formatValue(c)))
			}
		}
		if len(chance) > 0 {
			at.Note = fmt.Sprintf("Chance (k/%d for top-k, %d classes): %s.", s.classes, s.classes, strings.Join(chance, ", "))
		}
		out = append(out, at)
	}
	return out
}

// declared is the index of the first of st's metric declarations that matches metric, len when none.
func declared(st StageInfo, metric string) int {
	for i, d := range st.Metrics {
		if d.Matches(metric) {
			return i
		}
	}
	return len(st.Metrics)
}

// modelTable lays metrics out as columns, one row per model that has one of them.
func (s *study) modelTable(metrics []string, cells map[string]map[string]cell) numTable {
	if len(metrics) == 0 {
		return numTable{}
	}
	t := numTable{Columns: metrics}
	for _, m := range s.models {
		row := numRow{Label: cmp.Or(m, "(no model)")}
		has := false
		for _, metric := range metrics {
			c, ok := cells[metric][m]
			if !ok {
				c = cell{Value: "—"}
			}
			has = has || ok
			row.Cells = append(row.Cells, c)
		}
		if has {
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

// dataTable is the table behind a figure: one line per (metric, group), one column per model.
func (s *study) dataTable(rows []arrowio.Result) numTable {
	type key struct{ Metric, Group string }
	cells := map[key]map[string]cell{}
	has := map[string]bool{}
	for _, r := range rows {
		k := key{r.Metric, r.Group}
		if cells[k] == nil {
			cells[k] = map[string]cell{}
		}
		cells[k][r.Model] = cellOf(r)
		has[r.Model] = true
	}
	keys := slices.Collect(maps.Keys(cells))
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.Metric] = append(groups[k.Metric], k.Group)
	}
	var t numTable
	var models []string
	for _, m := range s.models {
		if has[m] {
			models = append(models, m)
			t.Columns = append(t.Columns, cmp.Or(m, "(no model)"))
		}
	}
	for _, metric := range slices.Sorted(maps.Keys(groups)) {
		for _, g := range sortGroups(groups[metric]) {
			row := numRow{Label: metric}
			if g != "" {
				row.Label += " · " + g
			}
			for _, m := range models {
				c, ok := cells[key{metric, g}][m]
				if !ok {
					c = cell{Value: "—"}
				}
				row.Cells = append(row.Cells, c)
			}
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

// csvOf writes the rows behind a figure as CSV: the results' columns, each group key as a column of its
// own, and the Wilson 95% interval where the value is a proportion of n samples.
func csvOf(rows []arrowio.Result) ([]byte, error) {
	keySet := map[string]bool{}
	parsed := make([]map[string]string, len(rows))
	for i, r := range rows {
		g, err := arrowio.ParseGroup(r.Group)
		if err != nil {
			return nil, fmt.Errorf("model %s, metric %s: %w", r.Model, r.Metric, err)
		}
		parsed[i] = g
		for k := range g {
			keySet[k] = true
		}
	}
	keys := slices.Sorted(maps.Keys(keySet))
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := rows[a], rows[b]
		return cmp.Or(cmp.Compare(ra.Model, rb.Model), cmp.Compare(ra.Metric, rb.Metric), groupOrder(ra.Group, rb.Group))
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := append([]string{"model", "stage", "metric", "group"}, keys...)
	head = append(head, "value", "n", "ci95_low", "ci95_high")
	if err := w.Write(head); err != nil {
		return nil, err
	}
	for _, i := range order {
		r := rows[i]
		rec := []string{r.Model, r.Stage, r.Metric, r.Group}
		for _, k := range keys {
			rec = append(rec, parsed[i][k])
		}
		lo, hi := "", ""
		if hasCI(r) {
			l, h := wilson(r.Value, r.N)
			lo, hi = strconv.FormatFloat(l, 'g', 6, 64), strconv.FormatFloat(h, 'g', 6, 64)
		}
		rec = append(rec, strconv.FormatFloat(r.Value, 'g', -1, 64), strconv.FormatInt(r.N, 10), lo, hi)
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// groupOrder compares two groups as sortGroups orders them.
func groupOrder(a, b string) int {
	if a == b {
		return 0
	}
	if sortGroups([]string{b, a})[0] == a {
		return -1
	}
	return 1
}
