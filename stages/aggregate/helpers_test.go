package aggregate

import (
	"math"
	"strings"
	"testing"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/params"
)

// runFunc checks raw through the function's own spec, as the pipeline does, and runs it.
func runFunc(t *testing.T, name string, raw map[string]any, inputs []string, in Inputs) ([]arrowio.Result, error) {
	t.Helper()
	f, ok := Lookup(name)
	if !ok {
		t.Fatalf("aggregate %q is not registered (have %v)", name, Names())
	}
	p, errs := params.Check(f.Params, raw)
	if len(errs) > 0 {
		t.Fatalf("params %v: %v", raw, errs)
	}
	return f.Run(p, inputs, in)
}

// row builds an input row.
func row(model, metric, group string, value float64, n int64) arrowio.Result {
	return arrowio.Result{Model: model, Metric: metric, Group: group, Value: value, N: n}
}

// assertRows compares rows in order, values to tol.
func assertRows(t *testing.T, got, want []arrowio.Result, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Model != w.Model || g.Metric != w.Metric || g.Group != w.Group || g.N != w.N || g.Stage != "" ||
			math.Abs(g.Value-w.Value) > tol || math.IsNaN(g.Value) {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
}

// assertErr checks that err is non-nil and mentions every fragment.
func assertErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error mentioning %q, got none", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}
