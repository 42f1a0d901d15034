package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/pipeline/export"
	"github.com/vistudy/vistudy/pipeline/report"
)

// Summary is summary.json: the study's leaderboard (`vistudy summary`).
type Summary struct {
	Study string `json:"study"`
	*export.Board
}

// Catalog returns the metric catalogue of rows: one entry per (stage, metric) they report, in the
// study's stage order and the declaring component's metric order, with what the stage's plugin or
// kind declares about it (an undeclared metric gets an entry without unit or meaning). A stage with
// `summary: false` has no headline metric.
func Catalog(plan *Plan, infos []report.StageInfo, rows []arrowio.Result) []arrowio.CatalogEntry {
	reported := map[string][]string{}
	for _, r := range rows {
		if !slices.Contains(reported[r.Stage], r.Metric) {
			reported[r.Stage] = append(reported[r.Stage], r.Metric)
		}
	}
	off := map[string]bool{}
	for _, st := range plan.Study.Stages {
		off[st.ID] = st.Summary != nil && !*st.Summary
	}
	var out []arrowio.CatalogEntry
	for _, st := range infos {
		ms := reported[st.ID]
		rank := func(m string) int {
			for i, d := range st.Metrics {
				if d.Matches(m) {
					return i
				}
			}
			return len(st.Metrics)
		}
		slices.SortStableFunc(ms, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b)) })
		for _, m := range ms {
			e := arrowio.CatalogEntry{Stage: st.ID, Metric: m, Source: cmp.Or(st.Plugin, st.Kind)}
			if d, ok := arrowio.Lookup(st.Metrics, m); ok {
				e.MetricInfo = d
			}
			e.Name = m
			e.Headline = e.Headline && !off[st.ID] // summary: false keeps the stage off the leaderboard
			out = append(out, e)
		}
	}
	return out
}

// writeTidy writes metrics.parquet, results.csv and summary.json beside results.parquet.
func writeTidy(plan *Plan, rd *RunDir, opts Options, infos []report.StageInfo, rows []arrowio.Result) error {
	cat := Catalog(plan, infos, rows)
	if err := pqfile.WriteMetrics(rd.path(MetricsFile), cat, opts.Mem); err != nil {
		return err
	}
	sorted := slices.Clone(rows)
	arrowio.SortResults(sorted)
	t, err := export.ResultsTable(sorted, export.NewCatalog(cat))
	if err != nil {
		return fmt.Errorf("%s: %w", ResultsCSVFile, err)
	}
	var csv bytes.Buffer
	if err := export.Write(&csv, "csv", t); err != nil {
		return err
	}
	if err := writeFileAtomic(rd.path(ResultsCSVFile), csv.Bytes()); err != nil {
		return err
	}
	var models []string
	for _, m := range plan.Study.Models {
		models = append(models, m.Name)
	}
	b, err := json.MarshalIndent(Summary{Study: plan.Study.Name, Board: export.Leaderboard(sorted, cat, models)}, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(rd.path(SummaryFile), append(b, '\n'))
}
