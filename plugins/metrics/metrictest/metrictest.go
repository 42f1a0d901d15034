// Package metrictest is the test kit of metric plugins: predictions batches with known labels
// and logits, in-process evaluation over work units with the state crossing as JSON (as it does
// between host and plugin), the shard invariant (one unit or many, the same rows), and the same
// metric as a real plugin process through the host.
package metrictest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// Predictions builds a predictions batch as the infer stage writes it: sample_id, label,
// logits ([k] per row, row-major), pred (arg-max, ties to the lower index) and confidence.
func Predictions(mem memory.Allocator, k int, labels []int32, logits []float32) (arrow.RecordBatch, error) {
	if len(logits) != k*len(labels) {
		return nil, fmt.Errorf("metrictest: %d logits for %d rows of %d classes", len(logits), len(labels), k)
	}
	lg, err := arrowio.NewTensorArray(mem, []int{k}, logits)
	if err != nil {
		return nil, err
	}
	defer lg.Release()
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColPred, Type: arrow.PrimitiveTypes.Int32},
		{Name: arrowio.ColConfidence, Type: arrow.PrimitiveTypes.Float32},
	}, nil))
	defer b.Release()
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		top := 0 // the arg-max, ties to the lower index as the infer stage's pred
		for j, v := range row {
			if v > row[top] {
				top = j
			}
		}
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("s%05d", i))
		b.Field(1).(*array.Int32Builder).Append(y)
		b.Field(2).(*array.Int32Builder).Append(int32(top))
		b.Field(3).(*array.Float32Builder).Append(softmaxAt(row, top))
	}
	base := b.NewRecordBatch()
	defer base.Release()
	return arrowio.SetColumn(base, arrow.Field{Name: arrowio.ColLogits, Type: lg.DataType()}, lg)
}

func softmaxAt(row []float32, i int) float32 {
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - float64(row[i]))
	}
	return float32(1 / sum)
}

// Evaluate runs m in process over units of batches: Init, Accumulate per batch and a JSON round
// trip of the state after every call (the state crosses the process boundary as JSON), then Merge
// of the units' states in unit order and Report.
func Evaluate[S any](m sdk.Metric[S], raw map[string]any, model sdk.Model, units ...[]arrow.RecordBatch) ([]sdk.Row, error) {
	info := m.Info()
	p, errs := params.Check(info.Params, raw)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", info.Name, errs[0])
	}
	var total S
	for u, batches := range units {
		s, err := m.Init(p, model)
		if err != nil {
			return nil, fmt.Errorf("%s: init: %w", info.Name, err)
		}
		if s, err = roundTrip(s); err != nil {
			return nil, err
		}
		for _, b := range batches {
			if s, err = m.Accumulate(p, model, s, b); err != nil {
				return nil, fmt.Errorf("%s: unit %d: accumulate: %w", info.Name, u, err)
			}
			if s, err = roundTrip(s); err != nil {
				return nil, err
			}
		}
		if u == 0 {
			total = s
			continue
		}
		if total, err = m.Merge(p, model, total, s); err != nil {
			return nil, fmt.Errorf("%s: merge: %w", info.Name, err)
		}
		if total, err = roundTrip(total); err != nil {
			return nil, err
		}
	}
	if len(units) == 0 {
		s, err := m.Init(p, model)
		if err != nil {
			return nil, err
		}
		total = s
	}
	return m.Report(p, model, total)
}

func roundTrip[S any](s S) (S, error) {
	var out S
	b, err := json.Marshal(s)
	if err != nil {
		return out, fmt.Errorf("metrictest: the state does not marshal to JSON: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("metrictest: the state does not unmarshal from its JSON: %w", err)
	}
	return out, nil
}

// Rows evaluates m over units of batches and fails the test on an error.
func Rows[S any](t testing.TB, m sdk.Metric[S], raw map[string]any, model sdk.Model, units ...[]arrow.RecordBatch) []sdk.Row {
	t.Helper()
	rows, err := Evaluate(m, raw, model, units...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Mergeable checks the shard invariant: the batches in one unit, and each batch its own unit
// (merged in order), give the same rows; it returns them.
func Mergeable[S any](t testing.TB, m sdk.Metric[S], raw map[string]any, model sdk.Model, batches ...arrow.RecordBatch) []sdk.Row {
	t.Helper()
	one := Rows(t, m, raw, model, batches)
	units := make([][]arrow.RecordBatch, len(batches))
	for i, b := range batches {
		units[i] = []arrow.RecordBatch{b}
	}
	many := Rows(t, m, raw, model, units...)
	if !reflect.DeepEqual(one, many) {
		t.Errorf("%s is not mergeable: one unit gives %v, one unit per batch gives %v", m.Info().Name, one, many)
	}
	return one
}

// Start builds the metric plugin package pkg (a path below the module root, e.g.
// "plugins/metrics/accuracy") and starts the plugin name as a real process; it stops when the test
// ends.
func Start(t testing.TB, pkg, name string, mem memory.Allocator) *host.MetricProcess {
	t.Helper()
	return testenv.StartMetric(t, pkg, name, mem)
}

// ProcessRows evaluates the plugin process mp over units of batches as the host does (Init,
// Accumulate, Merge of the units in order, Report) and fails the test on an error.
func ProcessRows(t testing.TB, mp *host.MetricProcess, raw map[string]any, model sdk.Model, units ...[]arrow.RecordBatch) []sdk.Row {
	t.Helper()
	js, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bound := mp.Bind(string(js), model)
	var states [][]byte
	for _, batches := range units {
		s, err := bound.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			var samples arrow.RecordBatch
			if s, samples, err = bound.Accumulate(ctx, s, b); err != nil {
				t.Fatal(err)
			}
			if samples != nil {
				samples.Release()
			}
		}
		states = append(states, s)
	}
	merged, err := bound.Merge(ctx, states)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := bound.Report(ctx, merged)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
