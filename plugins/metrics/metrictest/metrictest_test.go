package metrictest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/metrics/metrictest"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// hits counts top-1 hits exactly: mergeable.
type hits struct{}

type counts struct{ N, Hit int64 }

func (hits) Info() sdk.Info {
	return sdk.Info{Name: "hits", Version: "1", Requires: []string{arrowio.ColLabel, arrowio.ColPred}}
}
func (hits) Init(params.Values, sdk.Model) (counts, error) { return counts{}, nil }
func (hits) Accumulate(_ params.Values, _ sdk.Model, s counts, b arrow.RecordBatch) (counts, error) {
	ls, _ := arrowio.Int32Column(b, arrowio.ColLabel)
	ps, _ := arrowio.Int32Column(b, arrowio.ColPred)
	for i := range ls {
		s.N++
		if ls[i] == ps[i] {
			s.Hit++
		}
	}
	return s, nil
}
func (hits) Merge(_ params.Values, _ sdk.Model, a, b counts) (counts, error) {
	return counts{a.N + b.N, a.Hit + b.Hit}, nil
}
func (hits) Report(_ params.Values, _ sdk.Model, s counts) ([]sdk.Row, error) {
	return []sdk.Row{{Metric: "top1", Value: float64(s.Hit) / float64(s.N), N: s.N}}, nil
}

// meanOfMeans halves towards each batch's mean and merges by keeping the larger: its number
// depends on how the batches were cut into units.
type meanOfMeans struct{ hits }

type mean struct{ Mean float64 }

func (meanOfMeans) Init(params.Values, sdk.Model) (mean, error) { return mean{-1}, nil }
func (m meanOfMeans) Accumulate(p params.Values, md sdk.Model, s mean, b arrow.RecordBatch) (mean, error) {
	c, _ := m.hits.Accumulate(p, md, counts{}, b)
	v := float64(c.Hit) / float64(c.N)
	if s.Mean < 0 {
		return mean{v}, nil
	}
	return mean{(s.Mean + v) / 2}, nil
}
func (meanOfMeans) Merge(_ params.Values, _ sdk.Model, a, b mean) (mean, error) {
	return mean{max(a.Mean, b.Mean)}, nil
}
func (meanOfMeans) Report(_ params.Values, _ sdk.Model, s mean) ([]sdk.Row, error) {
	return []sdk.Row{{Metric: "top1", Value: s.Mean}}, nil
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func batches(t *testing.T, mem memory.Allocator) []arrow.RecordBatch {
	// Three batches of 1, 2 and 3 rows: hits 1/1, 1/2, 0/3 → 2 of 6.
	var out []arrow.RecordBatch
	for _, c := range []struct {
		labels []int32
		logits []float32
	}{
		{[]int32{0}, []float32{1, 0}},
		{[]int32{0, 1}, []float32{1, 0, 1, 0}},
		{[]int32{1, 1, 0}, []float32{1, 0, 2, 1, 0, 3}},
	} {
		b, err := metrictest.Predictions(mem, 2, c.labels, c.logits)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestMergeable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	bs := batches(t, mem)
	rows := metrictest.Mergeable(t, hits{}, nil, sdk.Model{Name: "m", NumClasses: 2}, bs...)
	if len(rows) != 1 || rows[0].Value != 2.0/6 || rows[0].N != 6 {
		t.Errorf("rows %v, want top1 2/6 over 6", rows)
	}
	// The kit catches a metric whose numbers depend on how the units were cut.
	r := &recorder{TB: t}
	metrictest.Mergeable(r, meanOfMeans{}, nil, sdk.Model{}, bs...)
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "is not mergeable") {
		t.Errorf("a mean of means passed the shard invariant: %v", r.failed)
	}
	for _, b := range bs {
		b.Release()
	}
	mem.AssertSize(t, 0)
}

func TestPredictionsShape(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	b, err := metrictest.Predictions(mem, 3, []int32{2, 0}, []float32{0, 1, 1, 5, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	preds, _ := arrowio.Int32Column(b, arrowio.ColPred)
	if preds[0] != 1 || preds[1] != 0 { // a tie between classes 1 and 2 goes to 1
		t.Errorf("preds %v, want [1 0]", preds)
	}
	if _, err := metrictest.Predictions(mem, 3, []int32{0}, []float32{1}); err == nil {
		t.Error("1 logit for a row of 3 classes was accepted")
	}
}

// TestAccuracyPluginProcess: the kit drives the real accuracy plugin process the way the host
// does, and it agrees with the hand count.
func TestAccuracyPluginProcess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	bs := batches(t, mem)
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	mp := metrictest.Start(t, "plugins/metrics/accuracy", "accuracy", memory.DefaultAllocator)
	rows := metrictest.ProcessRows(t, mp, map[string]any{"topk": []any{1.0}}, sdk.Model{Name: "m", NumClasses: 2, ClassNames: []string{"a", "b"}},
		bs[:1], bs[1:])
	found := false
	for _, r := range rows {
		if r.Metric == "top1" && r.Group == "" {
			found = true
			if r.Value != 2.0/6 || r.N != 6 {
				t.Errorf("accuracy plugin: top1 %v over %d, want 2/6 over 6", r.Value, r.N)
			}
		}
	}
	if !found {
		t.Errorf("no overall top1 in %v", rows)
	}
}
