package interop

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/internal/testenv"
)

// tidySummary is the part of summary.json the test compares.
type tidySummary struct {
	Columns []struct{ Stage, Metric, Group string } `json:"columns"`
	Rows    []struct {
		Model  string     `json:"model"`
		Values []*float64 `json:"values"`
	} `json:"rows"`
}

// TestDefaultStudyTidy runs the default study (smaller) and reads it as a user would: DuckDB over
// one glob of every per-sample table (typed sweep columns; a float sweep value filters its rows;
// top-1 recomputed from the per-sample ranks), DuckDB over results.parquet, and the README's
// pandas snippet, each giving the numbers of summary.json (`vistudy summary`).
func TestDefaultStudyTidy(t *testing.T) {
	bin := testenv.Plugins(t, "cmd/vistudy", "runtimes/onnxruntime", "plugins/metrics/accuracy", "plugins/metrics/shapebias",
		"plugins/metrics/calibration", "plugins/attacks/solarize", "plugins/attacks/randsol", "plugins/attacks/lowpass",
		"plugins/attacks/highpass", "plugins/attacks/criticalband", "plugins/attacks/corruption", "plugins/attacks/pgd",
		"plugins/attacks/square", "plugins/metrics/border")
	root := testenv.Root(t)
	work := t.TempDir()
	run := filepath.Join(work, "runs", "default")
	cmd := exec.Command(filepath.Join(bin, "vistudy"), "run", filepath.Join(root, "pipeline.yaml"), "--output", run, "--no-progress",
		"--set", "datasets.clean.per_pair=6", "--set", "datasets.probe.per_pair=3", "--set", "datasets.conflict.per_pair=2",
		"--set", "execution.unit_size=16", "--set", "execution.batch_size=8")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vistudy run: %v\n%s", err, b)
	}
	var sum tidySummary
	b, err := os.ReadFile(filepath.Join(run, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{} // model/stage/metric[@group] → summary value
	for _, r := range sum.Rows {
		for i, c := range sum.Columns {
			if v := r.Values[i]; v != nil {
				want[r.Model+"/"+c.Stage+"/"+c.Metric+"@"+c.Group] = *v
			}
		}
	}
	for _, k := range []string{"standard/acc/top1@", "advtrain/shape/shape_bias@", "augment/mce/mce@", "stylised/acc_pgd/top1@eps=0.0314"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("summary.json has no %s", k)
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// One glob over every per-sample table: the sweep columns are typed.
	glob := filepath.Join(run, "tables", "**", "*.parquet")
	types := map[string]string{}
	rows, err := db.Query(fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s', union_by_name = true))`, glob))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	rows.Close()
	for col, typ := range map[string]string{"eps": "DOUBLE", "severity": "BIGINT", "name": "VARCHAR", "threshold": "DOUBLE",
		"model": "VARCHAR", "stage": "VARCHAR", "dataset": "VARCHAR", "pred_name": "VARCHAR"} {
		if types[col] != typ {
			t.Errorf("column %s of the glob: %q, want %s (all: %v)", col, types[col], typ, types)
		}
	}
	// A float sweep value filters its rows; top-1 from the per-sample ranks equals the summary's.
	q := fmt.Sprintf(`SELECT model, count(*), avg((rank = 0)::INT) FROM read_parquet('%s', union_by_name = true)
		WHERE stage = 'acc_pgd' AND eps = 0.0314 GROUP BY model`, glob)
	rows, err = db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	models := 0
	for rows.Next() {
		var model string
		var n int
		var top1 float64
		if err := rows.Scan(&model, &n, &top1); err != nil {
			t.Fatal(err)
		}
		models++
		if w := want[model+"/acc_pgd/top1@eps=0.0314"]; n == 0 || math.Abs(top1-w) > 1e-12 {
			t.Errorf("%s: DuckDB top-1 at eps = 0.0314 over %d rows: %v, summary %v", model, n, top1, w)
		}
	}
	rows.Close()
	if models != 4 {
		t.Errorf("eps = 0.0314 matched %d models, want the 4 CNNs", models)
	}

	// DuckDB over results.parquet: the overall rows are the summary's numbers.
	rows, err = db.Query(fmt.Sprintf(`SELECT model, stage, metric, value FROM read_parquet('%s') WHERE "group" = ''`, filepath.Join(run, "results.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for rows.Next() {
		var model, stage, metric string
		var v float64
		if err := rows.Scan(&model, &stage, &metric, &v); err != nil {
			t.Fatal(err)
		}
		if w, ok := want[model+"/"+stage+"/"+metric+"@"]; ok {
			matched++
			if v != w && !(math.IsNaN(v) && math.IsNaN(w)) {
				t.Errorf("%s/%s/%s: results.parquet %v, summary %v", model, stage, metric, v, w)
			}
		}
	}
	rows.Close()
	if matched < 40 {
		t.Errorf("only %d summary numbers found among the overall rows of results.parquet", matched)
	}

	checkDuckDBSnippet(t, db, root, run, want)
	checkPandasSnippet(t, root, work, want)
}

// checkPandasSnippet runs the README's pandas snippet in work (where runs/default is the run) with
// Debian's Python and checks that the table it prints holds the summary's numbers.
func checkPandasSnippet(t *testing.T, root, work string, want map[string]float64) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pandas").Run(); err != nil {
		t.Logf("skipping the README pandas snippet: %s has no pandas (Debian python3-pandas)", py)
		return
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- pandas snippet")
	if !ok {
		t.Fatal("README.md has no <!-- pandas snippet --> marker")
	}
	_, after, _ = strings.Cut(after, "```python\n")
	snippet, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("README.md: the pandas snippet's code block is not closed")
	}
	const parquetRead = `pd.read_parquet("runs/default/results.parquet")`
	if !strings.Contains(snippet, parquetRead) {
		t.Fatalf("the README snippet no longer reads %s", parquetRead)
	}
	if err := exec.Command(py, "-c", "import pyarrow").Run(); err != nil {
		// Debian 12 packages no Parquet engine for pandas: run the snippet with the CSV reader its
		// comment names, and stop before the per-sample tables, which only Parquet holds.
		t.Logf("pyarrow is missing: the snippet reads results.csv, as its comment says")
		snippet = strings.Replace(snippet, parquetRead, `pd.read_csv("runs/default/results.csv")`, 1)
		snippet, _, _ = strings.Cut(snippet, "preds = pd.read_parquet")
	}
	check := `
import json
out = {f"{m}/{s}/{k}@": float(v) for (s, k), col in board.items() for m, v in col.items() if v == v}
out.update({f"{r.model}/acc_pgd/top1@eps=0.0314": float(r.value) for r in pgd.itertuples()})
print("CHECK" + json.dumps(out))
`
	cmd := exec.Command(py, "-c", snippet+check)
	cmd.Dir = work
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README pandas snippet: %v\n%s", err, b)
	}
	_, js, ok := strings.Cut(string(b), "CHECK")
	if !ok {
		t.Fatalf("README pandas snippet printed no check line:\n%s", b)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for k, w := range want {
		if g, ok := got[k]; ok {
			compared++
			if math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
				t.Errorf("pandas %s = %v, summary %v", k, g, w)
			}
		}
	}
	for _, k := range []string{"standard/acc/top1@", "advtrain/shape/shape_bias@", "stylised/acc_pgd/top1@eps=0.0314"} {
		if _, ok := got[k]; !ok {
			t.Errorf("the pandas snippet gives no %s", k)
		}
	}
	if compared < 40 {
		t.Errorf("the pandas snippet's table holds only %d of the summary's numbers", compared)
	}
}

// checkDuckDBSnippet runs the README's DuckDB snippet on the run (its path put in for
// runs/default) and checks each model's top-1 per ε against the summary's PGD columns.
func checkDuckDBSnippet(t *testing.T, db *sql.DB, root, run string, want map[string]float64) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- duckdb snippet")
	if !ok {
		t.Fatal("README.md has no <!-- duckdb snippet --> marker")
	}
	_, after, _ = strings.Cut(after, "```sql\n")
	query, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("README.md: the DuckDB snippet's code block is not closed")
	}
	query = strings.ReplaceAll(query, "runs/default", run)
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("README DuckDB snippet: %v\n%s", err, query)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var stage, model string
		var eps, top1 float64
		if err := rows.Scan(&stage, &model, &eps, &top1); err != nil {
			t.Fatal(err)
		}
		n++
		k := fmt.Sprintf("%s/acc_pgd/top1@eps=%s", model, strconv.FormatFloat(eps, 'g', -1, 64))
		if w, ok := want[k]; !ok || math.Abs(w-top1) > 1e-12 {
			t.Errorf("README DuckDB snippet: %s = %v, summary %v (present %v)", k, top1, w, ok)
		}
	}
	if n != 16 {
		t.Errorf("README DuckDB snippet gave %d rows, want 4 models × 4 ε", n)
	}
}
