package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
)

// TestResultsAndSummaryCommands runs SqueezeNet on 64 images and reads the run back through
// `vistudy results` (each format, filters) and `vistudy summary`: the numbers are results.parquet's.
func TestResultsAndSummaryCommands(t *testing.T) {
	bin := vistudyBin(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	mustRun(t, bin, "run", squeezenetStudy(t, dir, out), "--no-progress")
	rows, err := pqfile.ReadResults(filepath.Join(out, "results.parquet"), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	var top1 arrowio.Result
	for _, r := range rows {
		if r.Stage == "acc" && r.Metric == "top1" && r.Group == "" {
			top1 = r
		}
	}
	if top1.N != 64 {
		t.Fatalf("top1 row %+v, want 64 samples", top1)
	}

	recs, err := csv.NewReader(strings.NewReader(mustRun(t, bin, "results", out, "--format", "csv", "--metric", "top1"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || strings.Join(recs[0][:7], ",") != "model,stage,metric,group,value,n,unit" || recs[1][2] != "top1" ||
		recs[1][4] != strconv.FormatFloat(top1.Value, 'g', -1, 64) || recs[1][6] != "fraction" {
		t.Errorf("results --format csv --metric top1:\n%v", recs)
	}
	var js []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, bin, "results", out, "--format", "json", "--stage", "acc", "--model", "squeeze*")), &js); err != nil {
		t.Fatal(err)
	}
	if len(js) != 2 || js[0]["metric"] != "top1" || js[0]["value"] != top1.Value || js[1]["metric"] != "top5" {
		t.Errorf("results --format json: %v", js)
	}
	md := mustRun(t, bin, "results", out, "--format", "markdown")
	if !strings.HasPrefix(md, "| model | stage | metric |") {
		t.Errorf("results --format markdown:\n%s", md)
	}
	pq := filepath.Join(dir, "filtered.parquet")
	if err := os.WriteFile(pq, []byte(mustRun(t, bin, "results", out, "--format", "parquet", "--metric", "top5")), 0o644); err != nil {
		t.Fatal(err)
	}
	if back, err := pqfile.ReadResults(pq, memory.DefaultAllocator); err != nil || len(back) != 1 || back[0].Metric != "top5" {
		t.Errorf("results --format parquet: %+v, %v", back, err)
	}
	if o, code := run(t, bin, "results", out, "--format", "xml"); code != 2 || !strings.Contains(o, "csv") {
		t.Errorf("results --format xml: exit %d\n%s", code, o)
	}

	table := mustRun(t, bin, "summary", out)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[1] != "acc/top-1" || strings.Fields(lines[1])[1] != "fraction" ||
		strings.Fields(lines[2])[0] != "squeezenet" || strings.Fields(lines[2])[1] != strconv.FormatFloat(top1.Value, 'g', 4, 64) {
		t.Errorf("summary:\n%s", table)
	}
	var sum struct {
		Columns []struct{ Stage, Metric, Unit string }
		Rows    []struct {
			Model  string
			Values []float64
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, bin, "summary", out, "--format", "json")), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Columns) != 1 || sum.Columns[0].Metric != "top1" || len(sum.Rows) != 1 || sum.Rows[0].Values[0] != top1.Value {
		t.Errorf("summary --format json: %+v", sum)
	}
	if o, code := run(t, bin, "summary", dir); code != 2 || !strings.Contains(o, "summary.json") {
		t.Errorf("summary of a folder that is no run: exit %d\n%s", code, o)
	}
}
