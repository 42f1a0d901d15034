package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strings"
)

// cell is one model's entry in a table.
type cell struct {
	Value  string // formatted to 4 significant digits, or a note
	CI     string // Wilson 95% interval of a proportion, "" when none
	N      string // "n=…", "" when none
	Failed bool   // the value is a failed fit's reason
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

// page is what index.html shows.
type page struct {
	Run      header
	Models   int
	Stages   []StageInfo
	Analyses []analysisTable
	Figures  []Figure
	Notes    []string // declared figure kinds the report does not draw
}

// indexHTML renders the report page; html/template escapes every value taken from the study.
func indexHTML(s *study, run header, stages []StageInfo, figs []Figure, notes []string) ([]byte, error) {
	models := 0
	for _, m := range s.models {
		if m != "" {
			models++
		}
	}
	analyses := analysisTables(s, stages)
	for i := range analyses {
		for _, f := range figs {
			if f.Stage == analyses[i].Stage {
				analyses[i].Figures = append(analyses[i].Figures, f)
			}
		}
	}
	var buf bytes.Buffer
	err := indexTemplate.Execute(&buf, page{Run: run, Models: models, Stages: stages, Analyses: analyses, Figures: figs, Notes: notes})
	return buf.Bytes(), err
}

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Run.Study}} — vistudy report</title>
<style>
* { box-sizing: border-box; }
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 1.5em auto; padding: 0 1.5em; color: #222; max-width: 1320px; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; margin: 1.4em 0 0.4em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.3em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } th.label, td.label { text-align: left; font-weight: bold; }
td.label { font-weight: normal; white-space: nowrap; } tr.model td.label { font-weight: bold; }
.ci { color: #777; font-size: 0.8em; white-space: nowrap; margin-left: 0.3em; }
.n { display: block; color: #777; font-size: 0.8em; white-space: nowrap; }
.analyses { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.analysis { max-width: 100%; }
td.failed { color: #a33; text-align: left; max-width: 26em; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em; margin: 0.5em 0; }
dl.run dt { font-weight: bold; } dl.run dd { margin: 0; overflow-wrap: anywhere; }
ul.files { margin: 0.3em 0; padding-left: 1.2em; } ul.files li { overflow-wrap: anywhere; }
.meta { color: #555; font-size: 0.9em; }
details { margin: 0.4em 0 0.8em; } summary { cursor: pointer; color: #345; }
figure { margin: 1.5em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; display: block; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.3em; max-width: 75em; }
code { font-size: 0.95em; overflow-wrap: anywhere; }
ul.toc { columns: 2; font-size: 0.95em; } ul.toc li { break-inside: avoid; }
</style>
</head>
<body>
<h1>{{.Run.Study}} — vistudy report</h1>
<dl class="run">
<dt>study</dt><dd>{{.Run.Study}} (<code>{{.Run.File}}</code>), seed {{.Run.Seed}}</dd>
<dt>vistudy</dt><dd>{{.Run.Version}}</dd>
<dt>finished</dt><dd>{{.Run.Finished}}</dd>
<dt>duration</dt><dd>{{.Run.Duration}}</dd>
<dt>inputs skipped</dt><dd>{{if .Run.SkippedHref}}<a href="{{.Run.SkippedHref}}">{{.Run.Skipped}}</a>{{else}}{{.Run.Skipped}}{{end}}</dd>
<dt>models</dt><dd>{{.Models}}</dd>
</dl>
<details class="meta"><summary>{{len .Stages}} stages</summary>{{range $i, $s := .Stages}}{{if $i}}, {{end}}<code>{{.ID}}</code> ({{.Kind}}{{if .Plugin}} {{.Plugin}}{{end}}){{end}}.</details>
<h2 id="files">Files</h2>
<ul class="files">
{{range .Run.Links}}<li><a href="{{.Href}}"><code>{{.Name}}</code></a> — {{.Note}}</li>
{{end}}{{if .Run.Tables}}<li>per-sample tables, one folder per stage (Parquet; stage, model and sweep values are typed columns of every row):{{range $i, $t := .Run.Tables}}{{if $i}},{{end}} <a href="{{$t.Href}}"><code>{{$t.Name}}</code></a>{{end}}</li>
{{end}}</ul>
<p class="meta">Every figure below has a CSV file of its numbers next to it (the link under the figure).</p>
<h2 id="results">Results per analysis</h2>
<p class="meta">Each analysis's overall values per model, 4 significant digits. Under a proportion (accuracy, shape bias, decision fractions): its Wilson 95% confidence interval over n samples; n is the number of samples (or decisions) behind the value. Diagnostics (counts, fit parameters, exclusions) are folded away under each table. Each number has one definition in tables and figures: shape bias, for one, is pooled over categories (shape decisions / (shape + texture decisions)) in both.</p>
<div class="analyses">
{{range .Analyses}}<div class="analysis"><h3 id="table-{{.Stage}}">{{.Stage}} <span class="meta">({{.Component}})</span></h3>
{{if .Headline.Columns}}{{template "table" .Headline}}{{end}}
{{if .Note}}<p class="meta">{{.Note}}</p>{{end}}
{{if .Diagnostics.Columns}}<details><summary>Diagnostics of {{.Stage}} ({{len .Diagnostics.Columns}} values)</summary>
{{template "table" .Diagnostics}}</details>{{end}}
{{if .Figures}}<p class="meta">Figure{{if gt (len .Figures) 1}}s{{end}}:{{range $i, $f := .Figures}}{{if $i}},{{end}} <a href="#{{$f.File}}">{{$f.Title}}</a>{{end}}</p>{{end}}
</div>
{{end}}</div>
<h2 id="figures">Figures</h2>
{{if not .Figures}}<p>No stage of this run has rows a figure is drawn from.</p>{{end}}
{{if .Figures}}<ul class="toc">{{range .Figures}}<li><a href="#{{.File}}">{{.Title}}</a></li>{{end}}</ul>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Figures}}<figure id="{{.File}}">
<img src="{{.File}}.png" alt="{{.Title}}">
<figcaption><strong>{{.Title}}.</strong> {{.Caption}} <a href="{{.File}}.svg">SVG</a> · <a href="{{.File}}.csv">CSV</a></figcaption>
<details><summary>Table of the numbers in this figure ({{len .Table.Rows}} rows)</summary>
{{template "table" .Table}}</details>
</figure>
{{end}}</body>
</html>
{{define "table"}}<div class="scroll"><table>
<tr><th class="label"></th>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr class="model"><td class="label">{{.Label}}</td>{{range .Cells}}{{if .Failed}}<td class="failed">{{.Value}}</td>{{else}}<td>{{.Value}}{{if .CI}}<span class="ci">{{.CI}}</span>{{end}}{{if .N}}<span class="n">{{.N}}</span>{{end}}</td>{{end}}{{end}}</tr>
{{end}}</table></div>{{end}}
`))
