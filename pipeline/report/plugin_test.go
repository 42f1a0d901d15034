package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// buildThirdParty builds testdata/labelshare as a module of its own in a temporary folder, the way a
// plugin outside this repository is built (the SDK from this checkout through a replace directive),
// and returns the binary's path.
func buildThirdParty(t *testing.T) string {
	t.Helper()
	root := testenv.Root(t)
	src, err := os.ReadFile(filepath.Join(root, "pipeline/report/testdata/labelshare/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := "module example.com/labelshare\n\ngo 1.26\n\nrequire github.com/vistudy/vistudy v0.0.0\n\nreplace github.com/vistudy/vistudy => " + root + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum, "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "vistudy-metric-labelshare")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	// -mod=mod completes go.mod from the module cache; no network.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the third-party metric: %v\n%s", err, out)
	}
	return bin
}

// labelBatch is a predictions batch with only a label column.
func labelBatch(t *testing.T, mem memory.Allocator, labels []int32) arrow.RecordBatch {
	t.Helper()
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(labels, nil)
	a := b.NewInt32Array()
	defer a.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a}, int64(len(labels)))
}

// TestThirdPartyMetricFigure: a metric built outside the repository declares a bars figure in its Info;
// the hint comes over gRPC, the metric runs in its process, and report.Write draws the declared figure
// (not the generic one) from its rows into index.html.
func TestThirdPartyMetricFigure(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cat := host.NewCatalog()
	if err := cat.Add(ctx, buildThirdParty(t), ""); err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(sdk.KindMetric, "labelshare")
	if !ok {
		t.Fatal("the catalog has no metric labelshare")
	}
	want := []sdk.Figure{{Kind: sdk.FigureBars, Metric: "share", Label: "share of samples"}}
	if !slices.Equal(e.Info.Figures, want) {
		t.Fatalf("Info.Figures over gRPC = %+v, want %+v", e.Info.Figures, want)
	}
	mp, err := host.StartMetric(e, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()

	var rows []arrowio.Result
	for model, labels := range map[string][]int32{"m1": {0, 0, 0, 1}, "m2": {0, 1, 1, 2, 2}} {
		m := mp.Bind(`{}`, sdk.Model{Name: model, NumClasses: 3})
		st, err := m.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		batch := labelBatch(t, mem, labels)
		st, samples, err := m.Accumulate(ctx, st, batch)
		batch.Release()
		if err != nil {
			t.Fatal(err)
		}
		if samples != nil {
			samples.Release()
		}
		out, err := m.Report(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out {
			rows = append(rows, arrowio.Result{Model: model, Stage: "share", Metric: r.Metric, Group: r.Group, Value: r.Value, N: r.N})
		}
	}
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Model+" "+r.Metric+" "+r.Group] = r.Value
	}
	for k, v := range map[string]float64{"m1 share label=0": 0.75, "m1 share label=1": 0.25, "m2 share label=2": 0.4, "m2 count ": 5} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (rows %v)", k, got[k], v, got)
		}
	}

	for _, tc := range []struct {
		name    string
		figures []sdk.Figure
		file    string // the figure drawn
		absent  string // a figure that must not be
	}{
		{"declared", e.Info.Figures, "share-bars-share", "share-overall"},
		{"undeclared", nil, "share-overall", "share-bars-share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := StageInfo{ID: "share", Kind: "measure", Plugin: "labelshare", Figures: tc.figures}
			if err := Write(dir, []StageInfo{st}, rows); err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(dir, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			html := string(page)
			for _, s := range []string{`src="` + tc.file + `.png"`, `href="` + tc.file + `.svg"`} {
				if !strings.Contains(html, s) {
					t.Errorf("index.html does not reference %s", s)
				}
			}
			if strings.Contains(html, tc.absent) {
				t.Errorf("index.html references %s", tc.absent)
			}
			img := decodePNG(t, filepath.Join(dir, tc.file+".png"))
			for i, c := range palette10[:2] { // m1, m2: both models' bars in their colours
				if n := countColour(img, c); n < 200 {
					t.Errorf("%s.png has %d pixels of model %d's colour", tc.file, n, i)
				}
			}
			checkSVG(t, filepath.Join(dir, tc.file+".svg"))
		})
	}
}

func TestRegisterFigureTwicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"bars" registered twice`) {
			t.Errorf("recovered %v, want a panic naming the duplicate kind", r)
		}
	}()
	RegisterFigure(sdk.FigureBars, barsFigure)
}
