package export

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/vistudy/vistudy/arrowio"
)

// Filter keeps the rows whose stage, model and metric each match one of its patterns (path.Match
// globs; an empty list matches everything).
type Filter struct {
	Stages, Models, Metrics []string
}

// Check reports a malformed pattern.
func (f Filter) Check() error {
	for _, ps := range [][]string{f.Stages, f.Models, f.Metrics} {
		for _, p := range ps {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", p, err)
			}
		}
	}
	return nil
}

// Keep reports whether r passes the filter.
func (f Filter) Keep(r arrowio.Result) bool {
	return matchAny(f.Stages, r.Stage) && matchAny(f.Models, r.Model) && matchAny(f.Metrics, r.Metric)
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// Apply returns the rows that pass the filter.
func (f Filter) Apply(rows []arrowio.Result) []arrowio.Result {
	var out []arrowio.Result
	for _, r := range rows {
		if f.Keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Catalog finds a (stage, metric)'s entry.
type Catalog map[[2]string]arrowio.CatalogEntry

// NewCatalog indexes entries by stage and metric.
func NewCatalog(entries []arrowio.CatalogEntry) Catalog {
	c := Catalog{}
	for _, e := range entries {
		c[[2]string{e.Stage, e.Metric}] = e
	}
	return c
}

// ResultsTable is the tidy table as it is exported: model, stage, metric, group, value, n, unit,
// then one typed column per group key (as in results.parquet).
func ResultsTable(rows []arrowio.Result, cat Catalog) (*Table, error) {
	cols, err := arrowio.ResultColumns(rows)
	if err != nil {
		return nil, err
	}
	t := &Table{Columns: []string{"model", "stage", "metric", "group", "value", "n", "unit"}}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.Name)
	}
	for _, r := range rows {
		kv, _ := arrowio.ParseGroup(r.Group)
		row := []any{r.Model, r.Stage, r.Metric, r.Group, r.Value, r.N, cat[[2]string{r.Stage, r.Metric}].Unit}
		for _, c := range cols {
			v, ok := kv[c.Key]
			switch {
			case !ok:
				row = append(row, nil)
			case c.Type.ID() == arrow.INT64:
				n, _ := strconv.ParseInt(v, 10, 64)
				row = append(row, n)
			case c.Type.ID() == arrow.FLOAT64:
				f, _ := strconv.ParseFloat(v, 64)
				row = append(row, f)
			default:
				row = append(row, v)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// MaxSweepColumns is how many group values of a headline metric without an overall value the
// leaderboard shows as columns (a PGD sweep over four ε); a longer sweep is left to its figure.
const MaxSweepColumns = 6

// Column is one leaderboard column: a headline metric of a stage, at one group ("" overall).
type Column struct {
	Stage  string `json:"stage"`
	Metric string `json:"metric"`
	Group  string `json:"group,omitempty"`
	Label  string `json:"label"`
	Unit   string `json:"unit"`
	Better string `json:"better,omitempty"`
}

// Header is the column's name: stage/label, and @group for a sweep point (acc_pgd/top-1@eps=0.0314);
// it holds no white space.
func (c Column) Header() string {
	h := c.Stage + "/" + c.Label
	if c.Group != "" {
		h += "@" + c.Group
	}
	return strings.Join(strings.Fields(h), "-")
}

// Entry is one model's line of the leaderboard: a value per column (NaN: not reported) and the n
// behind it.
type Entry struct {
	Model  string    `json:"model"`
	Values []float64 `json:"-"`
	N      []int64   `json:"n"`
}

// Board is the leaderboard: one row per model, one column per headline number.
type Board struct {
	Columns []Column `json:"columns"`
	Rows    []Entry  `json:"rows"`
}

// Leaderboard builds the board of rows: a column per headline entry of catalog (in catalog order),
// at the overall group, or, for a metric without overall rows, at each of its groups when there
// are at most MaxSweepColumns; models in the order given, then any other in name order.
func Leaderboard(rows []arrowio.Result, catalog []arrowio.CatalogEntry, models []string) *Board {
	groups := map[[2]string][]string{}
	vals := map[[3]string]arrowio.Result{}
	seen := map[string]bool{}
	for _, m := range models {
		seen[m] = true
	}
	var extra []string
	for _, r := range rows {
		k := [2]string{r.Stage, r.Metric}
		if _, dup := vals[[3]string{r.Stage, r.Metric, r.Group + "\x00" + r.Model}]; !dup && !slices.Contains(groups[k], r.Group) {
			groups[k] = append(groups[k], r.Group)
		}
		vals[[3]string{r.Stage, r.Metric, r.Group + "\x00" + r.Model}] = r
		if r.Model != "" && !seen[r.Model] {
			seen[r.Model] = true
			extra = append(extra, r.Model)
		}
	}
	slices.Sort(extra)
	b := &Board{}
	for _, e := range catalog {
		if !e.Headline {
			continue
		}
		gs := groups[[2]string{e.Stage, e.Metric}]
		col := Column{Stage: e.Stage, Metric: e.Metric, Label: cmp.Or(e.Label, e.Metric), Unit: e.Unit, Better: e.Better}
		switch {
		case slices.Contains(gs, ""):
			b.Columns = append(b.Columns, col)
		case len(gs) > 0 && len(gs) <= MaxSweepColumns:
			gs = slices.Clone(gs)
			slices.SortFunc(gs, compareGroups)
			for _, g := range gs {
				c := col
				c.Group = g
				b.Columns = append(b.Columns, c)
			}
		}
	}
	for _, m := range append(slices.Clone(models), extra...) {
		e := Entry{Model: m, Values: make([]float64, len(b.Columns)), N: make([]int64, len(b.Columns))}
		any := false
		for i, c := range b.Columns {
			e.Values[i] = math.NaN()
			if r, ok := vals[[3]string{c.Stage, c.Metric, c.Group + "\x00" + m}]; ok {
				e.Values[i], e.N[i], any = r.Value, r.N, true
			}
		}
		if any {
			b.Rows = append(b.Rows, e)
		}
	}
	return b
}

// compareGroups orders groups by their values, numerically where both are numbers.
func compareGroups(a, b string) int {
	pa, pb := strings.Split(a, ","), strings.Split(b, ",")
	for i := 0; i < min(len(pa), len(pb)); i++ {
		ka, va, _ := strings.Cut(pa[i], "=")
		kb, vb, _ := strings.Cut(pb[i], "=")
		if c := cmp.Compare(ka, kb); c != 0 {
			return c
		}
		fa, ea := strconv.ParseFloat(va, 64)
		fb, eb := strconv.ParseFloat(vb, 64)
		if ea == nil && eb == nil {
			if c := cmp.Compare(fa, fb); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(va, vb); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

// Table renders the board: model, then a column per headline number, units in the second header.
func (b *Board) Table() *Table {
	t := &Table{Columns: []string{"model"}, Units: []string{""}}
	for _, c := range b.Columns {
		t.Columns = append(t.Columns, c.Header())
		t.Units = append(t.Units, c.Unit)
	}
	for _, e := range b.Rows {
		row := []any{e.Model}
		for _, v := range e.Values {
			row = append(row, v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// entryJSON is Entry on disk: values null where not reported.
type entryJSON struct {
	Model  string     `json:"model"`
	Values []*float64 `json:"values"`
	N      []int64    `json:"n"`
}

// MarshalJSON writes the values with null for NaN.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{Model: e.Model, N: e.N, Values: make([]*float64, len(e.Values))}
	for i, v := range e.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			j.Values[i] = &v
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the values, NaN for null.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	e.Model, e.N, e.Values = j.Model, j.N, make([]float64, len(j.Values))
	for i, v := range j.Values {
		e.Values[i] = math.NaN()
		if v != nil {
			e.Values[i] = *v
		}
	}
	return nil
}
