package report

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vistudy/vistudy/arrowio"
)

func TestCSVOf(t *testing.T) {
	rows := []arrowio.Result{
		{Model: "b", Stage: "s", Metric: "top1", Group: "sd=0.1", Value: 0.5, N: 10},
		{Model: "a", Stage: "s", Metric: "top1", Group: "sd=0.02", Value: 1, N: 10},
		{Model: "a", Stage: "s", Metric: "top1", Group: "sd=0.1", Value: 0.25, N: 0},
		{Model: "a", Stage: "s", Metric: "ece", Group: "", Value: 0.125, N: 10},
	}
	data, err := csvOf(rows)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"model", "stage", "metric", "group", "sd", "value", "n", "ci95_low", "ci95_high"},
		{"a", "s", "ece", "", "", "0.125", "10", "", ""},                         // not a proportion: no interval
		{"a", "s", "top1", "sd=0.02", "0.02", "1", "10", "0.722467", "1"},        // numeric order: 0.02 before 0.1
		{"a", "s", "top1", "sd=0.1", "0.1", "0.25", "0", "", ""},                 // n = 0: no interval
		{"b", "s", "top1", "sd=0.1", "0.1", "0.5", "10", "0.236593", "0.763407"}, // scipy's Wilson interval
	}
	if len(recs) != len(want) {
		t.Fatalf("CSV has %d records, want %d:\n%s", len(recs), len(want), data)
	}
	for i := range want {
		if !slices.Equal(recs[i], want[i]) {
			t.Errorf("record %d: %q, want %q", i, recs[i], want[i])
		}
	}
}

func TestIsHeadline(t *testing.T) {
	for _, c := range []struct {
		st     StageInfo
		metric string
		want   bool
	}{
		{stage("", "measure", "accuracy"), "top1", true},
		{stage("", "measure", "accuracy"), "top10", true},
		{stage("", "measure", "accuracy"), "unlabelled", false},
		{stage("", "measure", "shapebias"), "shape_bias", true},
		{stage("", "measure", "shapebias"), "shape_count", false},
		{stage("", "measure", "calibration"), "mean_confidence", false},
		{stage("", "aggregate", "criticalband"), "fit_failed", true},
		{stage("", "aggregate", "criticalband"), "fit_sigma", false},
		{StageInfo{Kind: "measure", Plugin: "mystery"}, "loss", true},
		{StageInfo{Kind: "measure", Plugin: "mystery"}, "other_count", false},
		{StageInfo{Kind: "measure", Plugin: "mystery"}, "fit_rmse", false},
	} {
		if got := isHeadline(c.st, c.metric); got != c.want {
			t.Errorf("isHeadline(%s, %q) = %v, want %v", componentOf(c.st), c.metric, got, c.want)
		}
	}
}

func TestRunHeader(t *testing.T) {
	run := t.TempDir()
	report := filepath.Join(run, "report")
	for _, f := range []string{resultsFile, errorsFile} {
		if err := os.WriteFile(filepath.Join(run, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(run, tablesDir, "acc"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := runHeader(Run{Study: "s", File: "s.yaml", Seed: 7, Version: "v1", Started: start, Finished: start.Add(time.Hour + 2*time.Minute + 3*time.Second),
		Skipped: 3}, report, []StageInfo{{ID: "acc"}, {ID: "preds"}})
	if h.Duration != "1h02m03s (wall clock, from the run directory's creation)" || h.Finished != "2026-01-02 04:06:08 UTC" || h.Seed != "7" {
		t.Errorf("header %+v", h)
	}
	if !strings.HasPrefix(h.Skipped, "3 ") || !strings.Contains(h.Skipped, errorsFile) || h.SkippedHref != "../errors.parquet" {
		t.Errorf("skipped %q: want the count and errors.parquet", h.Skipped)
	}
	var links []string
	for _, l := range append(h.Links, h.Tables...) {
		links = append(links, l.Href)
	}
	// No tables/preds: that stage saved none.
	if want := []string{"../results.parquet", "../errors.parquet", "../manifest.json", "../tables/acc/"}; !slices.Equal(links, want) {
		t.Errorf("links %v, want %v", links, want)
	}
	empty := runHeader(Run{}, filepath.Join(t.TempDir(), "report"), nil)
	if empty.Study != "unknown" || empty.Duration != "unknown" || empty.Finished != "unknown" || empty.Skipped != "none" {
		t.Errorf("header of an unknown run %+v", empty)
	}
}

func TestPooledShapeBias(t *testing.T) {
	rows := []arrowio.Result{
		// Model a has the plugin's pooled row: it wins over the categories.
		{Model: "a", Metric: "shape_bias", Value: 0.3, N: 100},
		{Model: "a", Metric: "shape_count", Group: "category=cat", Value: 90, N: 100},
		{Model: "a", Metric: "texture_count", Group: "category=cat", Value: 10, N: 100},
		// Model b: pooled from counts, 1/(1+9) and 9/(9+1) → 10/20, not the mean of the two fractions.
		{Model: "b", Metric: "shape_count", Group: "category=cat", Value: 1, N: 12},
		{Model: "b", Metric: "texture_count", Group: "category=cat", Value: 9, N: 12},
		{Model: "b", Metric: "shape_count", Group: "category=dog", Value: 27, N: 40},
		{Model: "b", Metric: "texture_count", Group: "category=dog", Value: 3, N: 40},
	}
	got := pooledShapeBias(rows)
	if got["a"].Value != 0.3 || got["a"].N != 100 {
		t.Errorf("a: %+v, want the pooled row 0.3 over 100", got["a"])
	}
	if got["b"].Value != 28.0/40 || got["b"].N != 40 {
		t.Errorf("b: %+v, want 28/40 over 40 decisions", got["b"])
	}
}

// TestShapeBiasOneDefinition: the shape-bias figure's legend gives the pooled value of the table
// (with its interval), not the mean over categories, and names the human reference's source.
func TestShapeBiasOneDefinition(t *testing.T) {
	rows := []arrowio.Result{
		{Model: "m", Stage: "shape", Metric: "shape_bias", Value: 0.8, N: 100},
		{Model: "m", Stage: "shape", Metric: "shape_bias", Group: "category=cat", Value: 0.9, N: 90},
		{Model: "m", Stage: "shape", Metric: "shape_bias", Group: "category=dog", Value: 0, N: 10},
	}
	st := &Stage{StageInfo: stage("shape", "measure", "shapebias"), Rows: rows, study: newStudy(rows)}
	figs, err := shapeBiasFigure(st)
	if err != nil || len(figs) != 1 {
		t.Fatalf("figures %v, %v", figs, err)
	}
	lo, hi := wilson(0.8, 100)
	label := fmt.Sprintf("m (0.800 [%.2f, %.2f])", lo, hi)
	if !strings.Contains(figs[0].Caption, "pooled over all categories") || !strings.Contains(figs[0].Caption, "Geirhos et al.") {
		t.Errorf("caption %q", figs[0].Caption)
	}
	dir := t.TempDir()
	if err := render(dir, figs[0]); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, figs[0].File+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{label, "humans (0.96, Geirhos et al. 2019)"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("the figure's legend lacks %q (the mean over categories would be 0.450)", s)
		}
	}
	tables := analysisTables(st.study, []StageInfo{st.StageInfo})
	if len(tables) != 1 || tables[0].Headline.Rows[0].Cells[0].Value != "0.8000" {
		t.Errorf("table %+v, want shape_bias 0.8000", tables)
	}
}

// TestCriticalBandReason: a failed fit's reason is in the figure's legend and caption.
func TestCriticalBandReason(t *testing.T) {
	rows := []arrowio.Result{
		{Model: "m", Stage: "cb", Metric: "threshold", Group: "band=0", Value: 0, N: 5},
		{Model: "m", Stage: "cb", Metric: "threshold", Group: "band=1", Value: 0, N: 5},
		{Model: "m", Stage: "cb", Metric: "fit_failed", Group: "reason=all thresholds are 0", Value: 1, N: 5},
	}
	st := &Stage{StageInfo: stage("cb", "aggregate", "criticalband"), Rows: rows, study: newStudy(rows)}
	figs, err := criticalBandFigure(st)
	if err != nil || len(figs) != 1 {
		t.Fatalf("figures %v, %v", figs, err)
	}
	if !strings.Contains(figs[0].Caption, "m: all thresholds are 0") || !strings.Contains(figs[0].Caption, "undefined at these noise levels") {
		t.Errorf("caption %q does not explain the failed fit", figs[0].Caption)
	}
	dir := t.TempDir()
	if err := render(dir, figs[0]); err != nil {
		t.Fatal(err)
	}
	if svg, err := os.ReadFile(filepath.Join(dir, figs[0].File+".svg")); err != nil || !strings.Contains(string(svg), "m (fit failed: all thresholds are 0)") {
		t.Errorf("the legend does not give the reason (%v)", err)
	}
}

// TestFilterAxes: every filter statistic's axis spans its whole range, even when every value is 0
// (today's default study: no sparse filter), so that sparsity never runs below 0.
func TestFilterAxes(t *testing.T) {
	var rows []arrowio.Result
	for l := range 3 {
		g := fmt.Sprintf("layer=l%d,depth=%g", l, float64(l)/2)
		rows = append(rows, arrowio.Result{Model: "m", Stage: "f", Metric: "sparsity", Group: g, Value: 0},
			arrowio.Result{Model: "m", Stage: "f", Metric: "orthogonality", Group: g, Value: 0.9},
			arrowio.Result{Model: "m", Stage: "f", Metric: "variance_entropy", Group: g, Value: 0.5})
	}
	st := &Stage{StageInfo: stage("f", "filters", ""), Rows: rows, study: newStudy(rows)}
	panels, _, err := filterPanels(st)
	if err != nil || len(panels) != 3 {
		t.Fatalf("panels %d, %v", len(panels), err)
	}
	want := map[string][2]float64{"Sparsity": {0, 1}, "Orthogonality": {0, 1}, "Variance entropy": {0, math.Log10(9)}}
	for _, pn := range panels {
		p, err := st.study.panelPlot(pn)
		if err != nil {
			t.Fatal(err)
		}
		if w := want[pn.Title]; p.Y.Min != w[0] || p.Y.Max != w[1] {
			t.Errorf("%s: y axis [%v, %v], want [%v, %v]", pn.Title, p.Y.Min, p.Y.Max, w[0], w[1])
		}
	}
}

func TestHasCI(t *testing.T) {
	for _, c := range []struct {
		r    arrowio.Result
		want bool
	}{
		{arrowio.Result{Metric: "top1", Value: 0.5, N: 10}, true},
		{arrowio.Result{Metric: "shape_bias", Value: 0.3, N: 460}, true},
		{arrowio.Result{Metric: "other_fraction", Value: 0.1, N: 560}, true},
		{arrowio.Result{Metric: "top1", Value: 0.5, N: 0}, false},                 // no samples
		{arrowio.Result{Metric: "top1", Value: 1.5, N: 10}, false},                // not a fraction
		{arrowio.Result{Metric: "ece", Value: 0.1, N: 400}, false},                // not a proportion
		{arrowio.Result{Metric: "recovered_accuracy", Value: 0.1, N: 480}, false}, // trials of the same samples
		{arrowio.Result{Metric: "min_accuracy", Value: 0.2, N: 160}, false},       // a minimum over a sweep
		{arrowio.Result{Metric: "criticality", Value: 0.5, N: 480}, false},        // a percentage of change
	} {
		if got := hasCI(c.r); got != c.want {
			t.Errorf("hasCI(%s = %v, n = %d) = %v, want %v", c.r.Metric, c.r.Value, c.r.N, got, c.want)
		}
	}
}
