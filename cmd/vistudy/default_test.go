package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
)

// smaller shrinks the default study for tests: fewer images, small units so shards share work.
var smaller = []string{
	"--set", "datasets.clean.per_pair=6", "--set", "datasets.probe.per_pair=3",
	"--set", "datasets.conflict.per_pair=2", "--set", "execution.unit_size=16", "--set", "execution.batch_size=8",
}

// TestDefaultStudyShards runs every stage of pipeline.yaml (a smaller version) once whole and
// once as three shards merged: every metric, aggregate and model-level row must be identical,
// and the study must show what it is for: the four regimes differ.
func TestDefaultStudyShards(t *testing.T) {
	bin := testenv.Plugins(t, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/metrics/shapebias",
		"plugins/metrics/calibration", "plugins/attacks/solarize", "plugins/attacks/randsol", "plugins/attacks/lowpass",
		"plugins/attacks/highpass", "plugins/attacks/criticalband", "plugins/attacks/corruption", "plugins/attacks/pgd",
		"plugins/attacks/square", "plugins/metrics/border")
	vistudy := filepath.Join(bin, "vistudy")
	study := filepath.Join(testenv.Root(t), "pipeline.yaml")
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole")
	mustRun(t, vistudy, append([]string{"run", study, "--output", whole}, smaller...)...)
	sharded := filepath.Join(dir, "sharded")
	for _, s := range []string{"0/3", "1/3", "2/3"} {
		mustRun(t, vistudy, append([]string{"run", study, "--output", sharded, "--shard", s}, smaller...)...)
	}
	mustRun(t, vistudy, append([]string{"merge", study, "--output", sharded}, smaller...)...)
	a := readFile(t, filepath.Join(whole, "results.parquet"))
	if b := readFile(t, filepath.Join(sharded, "results.parquet")); !bytes.Equal(a, b) {
		t.Error("results.parquet of three merged shards differs from the whole run's")
	}
	rows, err := pqfile.ReadResults(filepath.Join(whole, "results.parquet"), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	value := map[string]float64{}
	for _, r := range rows {
		stages[r.Stage] = true
		if r.Group == "" {
			value[r.Model+"/"+r.Stage+"/"+r.Metric] = r.Value
		}
	}
	for _, st := range []string{"acc", "calibration", "shape", "spectral", "critical_band", "solarization", "acc_randsol", "criticality", "filters",
		"acc_corrupted", "mce", "acc_pgd", "border", "acc_square"} {
		if !stages[st] {
			t.Errorf("no rows from stage %s", st)
		}
	}
	if sb, ss := value["standard/shape/shape_bias"], value["stylised/shape/shape_bias"]; !(sb < 0.5 && ss > 0.8) {
		t.Errorf("shape bias standard %.3f, stylised %.3f: standard training should lean on texture, texture randomisation on shape", sb, ss)
	}
	// Adversarial training buys robustness: at every eps the advtrain model keeps more top-1 under
	// PGD than the standard one, and accuracy does not rise with eps.
	pgd := map[string]map[string]float64{}
	for _, r := range rows {
		if r.Stage == "acc_pgd" && r.Metric == "top1" {
			if pgd[r.Model] == nil {
				pgd[r.Model] = map[string]float64{}
			}
			pgd[r.Model][r.Group] = r.Value
		}
	}
	epss := []string{"eps=0.00392", "eps=0.00784", "eps=0.0157", "eps=0.0314"}
	for i, e := range epss {
		if a, s := pgd["advtrain"][e], pgd["standard"][e]; !(a > s) {
			t.Errorf("PGD %s: advtrain top-1 %.3f is not above standard's %.3f", e, a, s)
		}
		for m, byEps := range pgd {
			if i > 0 && byEps[e] > byEps[epss[i-1]] {
				t.Errorf("PGD: %s's top-1 rises from %.3f to %.3f as eps grows to %s", m, byEps[epss[i-1]], byEps[e], e)
			}
		}
	}
	if v := value["standard/mce/mce"]; v != 1 {
		t.Errorf("mCE of the baseline model is %v, want 1", v)
	}
	// `vistudy report` rewrites the report from results.parquet alone.
	if err := os.RemoveAll(filepath.Join(whole, "report")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, vistudy, "report", whole)
	report, err := os.ReadFile(filepath.Join(whole, "report", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fig := range []string{"shape-shapebias.png", "spectral-spectral.png", "critical_band-criticalband.png", "calibration-reliability.png",
		"acc_solarized-solarization.png", "criticality-criticality.png", "criticality-criticality-heatmap.png", "filters-filters.png", "filters-divergence.png"} {
		if !strings.Contains(string(report), fig) {
			t.Errorf("report/index.html does not show %s", fig)
		}
		if _, err := os.Stat(filepath.Join(whole, "report", fig)); err != nil {
			t.Errorf("figure %s: %v", fig, err)
		}
	}
}
