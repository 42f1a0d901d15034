package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
)

var rows = []arrowio.Result{
	{Model: "a", Stage: "acc", Metric: "top1", Value: 0.9, N: 100},
	{Model: "b", Stage: "acc", Metric: "top1", Value: 0.8, N: 100},
	{Model: "a", Stage: "acc", Metric: "top5", Value: 1, N: 100},
	{Model: "a", Stage: "pgd", Metric: "top1", Group: "eps=0.0157", Value: 0.3, N: 50},
	{Model: "a", Stage: "pgd", Metric: "top1", Group: "eps=0.00392", Value: 0.6, N: 50},
	{Model: "b", Stage: "pgd", Metric: "top1", Group: "eps=0.00392", Value: 0.5, N: 50},
	{Model: "a", Stage: "noise", Metric: "top1", Group: "sd=0.1", Value: 0.5, N: 50},
	{Model: "a", Stage: "shape", Metric: "shape_bias", Group: "category=cat", Value: 0.2, N: 10},
	{Model: "a", Stage: "shape", Metric: "shape_bias", Value: 0.4, N: 80},
}

func catalog() []arrowio.CatalogEntry {
	top1 := arrowio.MetricInfo{Name: "top1", Unit: "fraction", Min: 0, Max: 1, Better: arrowio.Higher, Headline: true, Label: "top-1"}
	e := func(stage, metric string, m arrowio.MetricInfo) arrowio.CatalogEntry {
		m.Name = metric
		return arrowio.CatalogEntry{Stage: stage, Metric: metric, MetricInfo: m}
	}
	return []arrowio.CatalogEntry{
		e("acc", "top1", top1), e("acc", "top5", arrowio.MetricInfo{Unit: "fraction"}),
		e("pgd", "top1", top1), e("shape", "shape_bias", arrowio.MetricInfo{Unit: "fraction", Headline: true, Label: "shape bias"}),
		e("noise", "top1", top1), // one group, no overall row: one column
	}
}

func TestLeaderboard(t *testing.T) {
	b := Leaderboard(rows, catalog(), []string{"b", "a"})
	var heads []string
	for _, c := range b.Columns {
		heads = append(heads, c.Header())
	}
	// top5 is not headline; pgd has no overall row, so one column per ε in numeric order; the
	// shape bias column is the overall one, not the per-category row.
	want := []string{"acc/top-1", "pgd/top-1@eps=0.00392", "pgd/top-1@eps=0.0157", "shape/shape-bias", "noise/top-1@sd=0.1"}
	if !reflect.DeepEqual(heads, want) {
		t.Fatalf("columns %v, want %v", heads, want)
	}
	if b.Rows[0].Model != "b" || b.Rows[1].Model != "a" {
		t.Errorf("models %v, want the given order b, a", b.Rows)
	}
	if got := b.Rows[1].Values; got[0] != 0.9 || got[1] != 0.6 || got[2] != 0.3 || got[3] != 0.4 || got[4] != 0.5 {
		t.Errorf("a's values %v", got)
	}
	if got := b.Rows[0].Values; got[0] != 0.8 || got[1] != 0.5 || !math.IsNaN(got[2]) || !math.IsNaN(got[3]) {
		t.Errorf("b's values %v (NaN where not reported)", got)
	}
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back Board
	if err := json.Unmarshal(js, &back); err != nil || !math.IsNaN(back.Rows[0].Values[2]) || back.Rows[1].Values[1] != 0.6 {
		t.Errorf("JSON round trip %s: %+v, %v", js, back, err)
	}
	if !strings.Contains(string(js), `"values":[0.8,0.5,null,null,null]`) {
		t.Errorf("JSON %s: want null for values not reported", js)
	}
	// More sweep points than MaxSweepColumns: no column.
	var long []arrowio.Result
	for i := range MaxSweepColumns + 1 {
		long = append(long, arrowio.Result{Model: "a", Stage: "pgd", Metric: "top1", Group: "eps=" + string(rune('1'+i)), Value: 1, N: 1})
	}
	if b := Leaderboard(long, catalog(), nil); len(b.Columns) != 0 {
		t.Errorf("a %d-point sweep gave columns %v", len(long), b.Columns)
	}
}

func TestResultsTableFormats(t *testing.T) {
	cat := NewCatalog(catalog())
	tb, err := ResultsTable(Filter{Stages: []string{"pgd", "sha*"}}.Apply(rows), cat)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"model", "stage", "metric", "group", "value", "n", "unit", "category", "eps"}; !reflect.DeepEqual(tb.Columns, want) {
		t.Fatalf("columns %v, want %v", tb.Columns, want)
	}
	if len(tb.Rows) != 5 {
		t.Fatalf("%d rows after the stage filter, want 5", len(tb.Rows))
	}
	cases := []struct {
		format string
		check  func(string) string
	}{
		{"csv", func(out string) string {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != 6 || recs[1][8] != "0.0157" || recs[1][7] != "" || recs[1][6] != "fraction" {
				return "csv does not read back as 6 records with the typed eps column"
			}
			return ""
		}},
		{"tsv", func(out string) string {
			if !strings.Contains(strings.Split(out, "\n")[0], "model\tstage\tmetric") {
				return "tsv header not tab-separated"
			}
			return ""
		}},
		{"table", func(out string) string {
			for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if n := len(strings.Fields(line)); n != 9 {
					return "line " + string(rune('0'+i)) + " splits into a wrong number of fields: " + line
				}
			}
			return ""
		}},
		{"json", func(out string) string {
			var v []map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 5 || v[0]["eps"] != 0.0157 || v[0]["category"] != nil {
				return "json rows do not carry the typed eps and null category"
			}
			return ""
		}},
		{"markdown", func(out string) string {
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 7 || !strings.HasPrefix(lines[1], "| --- |") {
				return "markdown is not a header, a rule and 5 rows"
			}
			return ""
		}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.format, tb); err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if msg := c.check(buf.String()); msg != "" {
			t.Errorf("%s: %s:\n%s", c.format, msg, buf.String())
		}
	}
	if err := Write(&bytes.Buffer{}, "xml", tb); err == nil || !strings.Contains(err.Error(), "csv") {
		t.Errorf("unknown format: %v, want an error listing the formats", err)
	}
	if err := (Filter{Models: []string{"["}}).Check(); err == nil {
		t.Error("a malformed glob accepted")
	}
}
