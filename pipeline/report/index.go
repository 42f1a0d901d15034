package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/vistudy/vistudy/arrowio"
)

// column is one (stage, metric) of the summary table.
type column struct {
	Stage, Metric string
}

// cell is one model's entry in a column.
type cell struct {
	Value string // formatted to 4 significant digits, or a note
	N     string // "n=…", "" when none
}

// tableRow is one model's line of the summary table.
type tableRow struct {
	Model string
	Cells []cell
}

// summary builds the table of overall values: models as rows, one column per (stage, metric) with rows of
// group "", stages in study order (stages not in the study after, by id), metrics sorted; a failed fit
// shows as its reason.
func summary(s *study, stages []StageInfo, rows []arrowio.Result) ([]column, []tableRow) {
	order := map[string]int{}
	for i, st := range stages {
		order[st.ID] = i
	}
	rank := func(stage string) int {
		if i, ok := order[stage]; ok {
			return i
		}
		return len(stages)
	}
	cells := map[column]map[string]cell{}
	for _, r := range rows {
		c := column{r.Stage, r.Metric}
		var v cell
		switch {
		case r.Group == "":
			v = cell{Value: formatValue(r.Value)}
			if r.N > 0 {
				v.N = fmt.Sprintf("n=%d", r.N)
			}
		case r.Metric == "fit_failed":
			g, _ := arrowio.ParseGroup(r.Group)
			v = cell{Value: "failed: " + g["reason"]}
		default:
			continue
		}
		if cells[c] == nil {
			cells[c] = map[string]cell{}
		}
		cells[c][r.Model] = v
	}
	cols := slices.SortedFunc(maps.Keys(cells), func(a, b column) int {
		return cmp.Or(cmp.Compare(rank(a.Stage), rank(b.Stage)), strings.Compare(a.Stage, b.Stage), strings.Compare(a.Metric, b.Metric))
	})
	var out []tableRow
	for _, m := range s.models {
		tr := tableRow{Model: m}
		if m == "" {
			tr.Model = "(no model)"
		}
		has := false
		for _, c := range cols {
			v, ok := cells[c][m]
			if !ok {
				v = cell{Value: "—"}
			}
			has = has || ok
			tr.Cells = append(tr.Cells, v)
		}
		if has {
			out = append(out, tr)
		}
	}
	return cols, out
}

// formatValue writes v with 4 significant digits.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	}
	// %#.4g keeps trailing zeros (0.3000), so every value shows its 4 digits; no bare trailing point.
	return strings.TrimSuffix(fmt.Sprintf("%#.4g", v), ".")
}

// stageSpan is a header cell over a stage's consecutive columns.
type stageSpan struct {
	Stage string
	Span  int
}

// spans groups consecutive columns of the same stage for the table header.
func spans(cols []column) []stageSpan {
	var out []stageSpan
	for _, c := range cols {
		if n := len(out); n > 0 && out[n-1].Stage == c.Stage {
			out[n-1].Span++
			continue
		}
		out = append(out, stageSpan{c.Stage, 1})
	}
	return out
}

// page is what index.html shows.
type page struct {
	Models  int
	Stages  []StageInfo
	Columns []column
	Spans   []stageSpan
	Rows    []tableRow
	Figures []Figure
	Notes   []string // declared figure kinds the report does not draw
}

// indexHTML renders the report page; html/template escapes every value taken from the study.
func indexHTML(s *study, stages []StageInfo, rows []arrowio.Result, figs []Figure, notes []string) ([]byte, error) {
	cols, table := summary(s, stages, rows)
	var buf bytes.Buffer
	err := indexTemplate.Execute(&buf, page{Models: len(table), Stages: stages, Columns: cols, Spans: spans(cols),
		Rows: table, Figures: figs, Notes: notes})
	return buf.Bytes(), err
}

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vistudy report</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } th.model, td.model { text-align: left; font-weight: bold; }
.n { display: block; color: #888; font-size: 0.8em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.3em; }
</style>
</head>
<body>
<h1>vistudy report</h1>
<p>{{.Models}} model(s); stages:{{range .Stages}} <code>{{.ID}}</code> ({{.Kind}}{{if .Plugin}} {{.Plugin}}{{end}}){{end}}.</p>
<h2>Summary</h2>
<p>Overall values (rows with an empty group) per model, 4 significant digits; n is the number of samples behind each value (where the stage counts samples).</p>
<div class="scroll"><table>
<tr><th class="model" rowspan="2">model</th>{{range .Spans}}<th colspan="{{.Span}}">{{.Stage}}</th>{{end}}</tr>
<tr>{{range .Columns}}<th>{{.Metric}}</th>{{end}}</tr>
{{range .Rows}}<tr><td class="model">{{.Model}}</td>{{range .Cells}}<td>{{.Value}}{{if .N}}<span class="n">{{.N}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table></div>
<h2>Figures</h2>
{{if not .Figures}}<p>No stage of this run has rows a figure is drawn from.</p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Figures}}<figure id="{{.File}}">
<img src="{{.File}}.png" alt="{{.Title}}">
<figcaption><strong>{{.Title}}.</strong> {{.Caption}} <a href="{{.File}}.svg">SVG</a></figcaption>
</figure>
{{end}}</body>
</html>
`))
