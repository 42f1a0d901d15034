package interop

import (
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/vistudy/vistudy/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestDuckDBReadsRun runs a two-model study and queries its tables with DuckDB: the predictions
// of tables/**/*.parquet (the model a column of the files), the logits as a list of
// K floats, and results.parquet, whose top-1 must equal the accuracy DuckDB computes itself.
func TestDuckDBReadsRun(t *testing.T) {
	dir := testenv.Plugins(t, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy")
	w := testenv.NewColourWorld(t)
	out := filepath.Join(w.Dir, "run")
	study := filepath.Join(w.Dir, "study.yaml")
	body := fmt.Sprintf(`name: duck
output: %s
execution: {batch_size: 5, unit_size: 16}
models:
  alpha: {path: %[2]s, input: {size: 16, resize: 16}, labels: %[3]s}
  beta: {path: %[2]s, input: {size: 16, resize: 16, scale: 0.4}, labels: %[3]s}
datasets:
  colours: {kind: imagefolder, path: %[4]s}
stages:
  - id: images
    load: {dataset: colours}
  - id: preds
    infer: {input: images}
  - id: acc
    measure: {input: preds, metric: accuracy, params: {topk: [1]}}
`, out, w.Model, w.Labels, w.Data)
	if err := os.WriteFile(study, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(filepath.Join(dir, "vistudy"), "run", study).CombinedOutput(); err != nil {
		t.Fatalf("vistudy run: %v\n%s", err, b)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	preds := filepath.Join(out, "tables", "preds", "**", "*.parquet")
	rows, err := db.Query(fmt.Sprintf(`SELECT model, count(*), avg(CASE WHEN pred = label THEN 1.0 ELSE 0.0 END), min(len(logits)), max(len(logits))
		FROM read_parquet('%s') GROUP BY model ORDER BY model`, preds))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for rows.Next() {
		var model string
		var n, kmin, kmax int
		var acc float64
		if err := rows.Scan(&model, &n, &acc, &kmin, &kmax); err != nil {
			t.Fatal(err)
		}
		if n != 52 || kmin != 4 || kmax != 4 {
			t.Errorf("model %s: %d rows, logits of %d..%d floats; want 52 rows of 4", model, n, kmin, kmax)
		}
		got[model] = acc
	}
	rows.Close()
	// alpha sees the colours as they are: 48/52 right. beta scales pixels by 0.4, so a colour
	// channel of 0.9 scores 0.36 < 0.4 and "dark" wins everywhere: only the 12 dark images are right.
	if math.Abs(got["alpha"]-48.0/52) > 1e-12 || math.Abs(got["beta"]-12.0/52) > 1e-12 {
		t.Errorf("DuckDB accuracy per model %v, want alpha 48/52, beta 12/52", got)
	}

	var n int
	var top1 float64
	err = db.QueryRow(fmt.Sprintf(`SELECT count(*), avg(value) FROM read_parquet('%s') WHERE metric = 'top1' AND stage = 'acc'`,
		filepath.Join(out, "results.parquet"))).Scan(&n, &top1)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || math.Abs(top1-(48.0+12)/2/52) > 1e-12 {
		t.Errorf("results.parquet: %d top1 rows averaging %v, want 2 rows averaging 30/52", n, top1)
	}
	var id, path, reason string
	var model sql.NullString
	if err := db.QueryRow(fmt.Sprintf(`SELECT sample_id, path, model, reason FROM read_parquet('%s') ORDER BY sample_id LIMIT 1`,
		filepath.Join(out, "errors.parquet"))).Scan(&id, &path, &model, &reason); err != nil {
		t.Fatal(err)
	}
	if id != "1green/missing.png" || path != filepath.Join(w.Data, "1green", "missing.png") || model.Valid || reason == "" {
		t.Errorf("errors.parquet first row %q %q %v %q: want the sample id, its file and no model (a load stage)", id, path, model, reason)
	}
	// Joinable: the skipped sample's id is the key the tables use.
	var joined int
	if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM read_parquet('%s') p JOIN read_parquet('%s') e USING (sample_id)`,
		preds, filepath.Join(out, "errors.parquet"))).Scan(&joined); err != nil {
		t.Fatal(err)
	}
	if joined != 0 {
		t.Errorf("%d predictions of skipped samples", joined)
	}
}
