package sdk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/metrics/metrictest"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// The metric of docs/plugins.md, word for word between the markers (TestPluginsDocExample).

// docs/plugins.md begins
type state struct{ N, Wrong int64 } // exact counts: merging shards loses nothing

type errorRate struct{}

func (errorRate) Info() sdk.Info {
	return sdk.Info{Name: "errorrate", Version: "0.1.0", Description: "top-1 error rate",
		Requires: []string{arrowio.ColLabel, arrowio.ColPred},
		Figures:  []sdk.Figure{{Kind: sdk.FigureSweep, Metric: "error", Label: "top-1 error"}}}
}

func (errorRate) Init(params.Values, sdk.Model) (state, error) { return state{}, nil }

func (errorRate) Accumulate(_ params.Values, _ sdk.Model, s state, b arrow.RecordBatch) (state, error) {
	labels, err := arrowio.Int32Column(b, arrowio.ColLabel)
	if err != nil {
		return s, err
	}
	preds, err := arrowio.Int32Column(b, arrowio.ColPred)
	if err != nil {
		return s, err
	}
	for i, y := range labels {
		if y >= 0 {
			s.N++
			if preds[i] != y {
				s.Wrong++
			}
		}
	}
	return s, nil
}

func (errorRate) Merge(_ params.Values, _ sdk.Model, a, b state) (state, error) {
	return state{a.N + b.N, a.Wrong + b.Wrong}, nil
}

func (errorRate) Report(_ params.Values, _ sdk.Model, s state) ([]sdk.Row, error) {
	return []sdk.Row{{Metric: "error", Value: float64(s.Wrong) / float64(max(s.N, 1)), N: s.N}}, nil
}

// docs/plugins.md ends

// Example_metric runs the metric of docs/plugins.md in process over two work units, its state
// crossing as JSON between calls as it does between host and plugin.
func Example_metric() {
	mem := memory.NewGoAllocator()
	// Unit 1: two samples, one wrong; unit 2: one sample, right; and one without a label.
	u1, _ := metrictest.Predictions(mem, 2, []int32{0, 1}, []float32{3, 1, 2, 0})
	u2, _ := metrictest.Predictions(mem, 2, []int32{1, -1}, []float32{0, 1, 1, 0})
	defer u1.Release()
	defer u2.Release()
	rows, err := metrictest.Evaluate[state](errorRate{}, nil, sdk.Model{Name: "m", NumClasses: 2},
		[]arrow.RecordBatch{u1}, []arrow.RecordBatch{u2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rows {
		fmt.Printf("%s %.4f over %d\n", r.Metric, r.Value, r.N)
	}
	// Output: error 0.3333 over 3
}

// TestPluginsDocExample: the metric printed in docs/plugins.md is the compiled one above.
func TestPluginsDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugins.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_metric_test.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	begin, end := "// docs/plugins.md begins\n", "// docs/plugins.md ends\n"
	code := strings.TrimSpace(s[strings.Index(s, begin)+len(begin) : strings.Index(s, end)])
	if !strings.Contains(string(doc), code) {
		t.Errorf("docs/plugins.md does not print the metric of example_metric_test.go between its markers; copy it over")
	}
}
