package main

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/metrics/metrictest"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// batch builds a predictions batch of labels and 4-class logits.
func batch(t *testing.T, mem memory.Allocator, labels []int32, logits []float32) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String},
		{Name: arrowio.ColLabel, Type: arrow.PrimitiveTypes.Int32},
	}, nil))
	defer b.Release()
	for i, y := range labels {
		b.Field(0).(*array.StringBuilder).Append(string(rune('a' + i)))
		b.Field(1).(*array.Int32Builder).Append(y)
	}
	base := b.NewRecordBatch()
	defer base.Release()
	lg, err := arrowio.NewTensorArray(mem, []int{4}, logits)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Release()
	out, err := arrowio.SetColumn(base, arrow.Field{Name: arrowio.ColLogits, Type: lg.DataType()}, lg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Five samples whose label ranks are, by hand: 0, 1, 3, 2 (ties go to the lower class index, as
// the arg-max pred does), and an unlabelled one.
var (
	handLabels = []int32{2, 0, 1, 3, -1}
	handLogits = []float32{
		0, 1, 5, 2, // label 2 is the max: rank 0
		3, 4, 0, 1, // label 0 (3) < 4: rank 1
		9, 0, 8, 7, // label 1 (0) below three: rank 3
		1, 1, 0, 1, // label 3 ties with classes 0 and 1, which come first: rank 2
		0, 0, 0, 0,
	}
)

func TestAccuracyKnownAnswers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p, err := params.Parse(accuracy{}.Info().Params, `{"topk": [1, 2, 3]}`)
	if err != nil {
		t.Fatal(err)
	}
	m := accuracy{}
	b := batch(t, mem, handLabels, handLogits)
	defer b.Release()
	// One pass, and the same samples in two states merged.
	s, _ := m.Init(p, sdk.Model{})
	s, err = m.Accumulate(p, sdk.Model{}, s, b)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Init(p, sdk.Model{})
	c, _ := m.Init(p, sdk.Model{})
	first, second := b.NewSlice(0, 2), b.NewSlice(2, 5)
	defer first.Release()
	defer second.Release()
	a, _ = m.Accumulate(p, sdk.Model{}, a, first)
	c, _ = m.Accumulate(p, sdk.Model{}, c, second)
	merged, _ := m.Merge(p, sdk.Model{}, a, c)
	if !reflect.DeepEqual(merged, s) {
		t.Errorf("merged state %+v, one pass %+v", merged, s)
	}
	rows, _ := m.Report(p, sdk.Model{}, s)
	want := []sdk.Row{{Metric: "top1", Value: 0.25, N: 4}, {Metric: "top2", Value: 0.5, N: 4}, {Metric: "top3", Value: 0.75, N: 4},
		{Metric: "unlabelled", Value: 1, N: 1}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
	samples, err := m.Samples(p, sdk.Model{}, b, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer samples.Release()
	ranks := samples.Column(2).(*array.Int32)
	for i, w := range []int32{0, 1, 3, 2} {
		if ranks.Value(i) != w {
			t.Errorf("sample %d rank %d, want %d", i, ranks.Value(i), w)
		}
	}
	if !ranks.IsNull(4) {
		t.Error("the unlabelled sample has a rank")
	}
}

func TestAccuracyLabelOutsideModel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p, _ := params.Parse(accuracy{}.Info().Params, `{"topk": [1]}`)
	b := batch(t, mem, []int32{7}, []float32{1, 2, 3, 4})
	defer b.Release()
	s, _ := accuracy{}.Init(p, sdk.Model{})
	if _, err := (accuracy{}).Accumulate(p, sdk.Model{}, s, b); err == nil || !strings.Contains(err.Error(), "label 7 but the model has 4 classes") {
		t.Errorf("want a label-space error, got %v", err)
	}
	if _, err := params.Parse(accuracy{}.Info().Params, `{"topk": [0]}`); err == nil {
		t.Error("topk 0 accepted")
	}
}

// TestAccuracyNonFinite: a NaN or +Inf logit (or a row of -Inf) fails the stage naming the
// sample, labelled or not; a NaN at the true label is never counted as a hit.
func TestAccuracyNonFinite(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	ninf := float32(math.Inf(-1))
	p, _ := params.Parse(accuracy{}.Info().Params, `{"topk": [1]}`)
	for _, tc := range []struct {
		name   string
		labels []int32
		logits []float32
		want   string
	}{
		{"NaN at the label", []int32{1, 0}, []float32{0, 1, 0, 0, 0, nan, 0, 0}, `sample "b": the model's output is not finite: logit 1 is NaN`},
		{"+Inf", []int32{0}, []float32{inf, 0, 0, 0}, `sample "a": the model's output is not finite: logit 0 is +Inf`},
		{"all -Inf", []int32{0}, []float32{ninf, ninf, ninf, ninf}, "every logit is -Inf"},
		{"unlabelled NaN", []int32{-1}, []float32{nan, nan, nan, nan}, "logit 0 is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batch(t, mem, tc.labels, tc.logits)
			defer b.Release()
			s, _ := accuracy{}.Init(p, sdk.Model{})
			if _, err := (accuracy{}).Accumulate(p, sdk.Model{}, s, b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// -Inf beside finite values is a zero probability, not an error: label 1 still ranks first.
	b := batch(t, mem, []int32{1}, []float32{ninf, 2, ninf, 1})
	defer b.Release()
	s, _ := accuracy{}.Init(p, sdk.Model{})
	s, err := (accuracy{}).Accumulate(p, sdk.Model{}, s, b)
	if err != nil || s.Hits[1] != 1 {
		t.Errorf("a row with -Inf: hits %v, err %v", s.Hits, err)
	}
}

// TestAccuracyTopKBounds: topk must be a non-empty list of at most 100 values within
// [1, number of classes].
func TestAccuracyTopKBounds(t *testing.T) {
	specs := accuracy{}.Info().Params
	for js, want := range map[string]string{
		`{"topk": []}`:  "has 0 elements, want at least 1",
		`{"topk": [0]}`: "below the minimum 1",
		`{"topk": [` + strings.Repeat("1,", 100) + `1]}`: "has 101 elements, want at most 100",
	} {
		if _, err := params.Parse(specs, js); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: %v, want %q", js, err, want)
		}
	}
	p, err := params.Parse(specs, `{"topk": [1, 1001]}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (accuracy{}).Init(p, sdk.Model{Name: "r50", NumClasses: 1000}); err == nil || !strings.Contains(err.Error(), "topk 1001 exceeds the 1000 classes of model r50") {
		t.Errorf("topk 1001 on 1000 classes: %v", err)
	}
	// A model without a declared label space is checked against its outputs.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p, _ = params.Parse(specs, `{"topk": [5]}`)
	b := batch(t, mem, []int32{0}, []float32{1, 2, 3, 4})
	defer b.Release()
	s, _ := accuracy{}.Init(p, sdk.Model{})
	if _, err := (accuracy{}).Accumulate(p, sdk.Model{}, s, b); err == nil || !strings.Contains(err.Error(), "topk 5 exceeds the model's 4 outputs") {
		t.Errorf("topk 5 on 4 outputs: %v", err)
	}
}

// TestAccuracyGroupBy groups the hand-made samples by an integer and a dictionary column (as
// imagenet-c's severity and corruption): each group's top-k is computed from its own samples,
// merging states keeps the groups, and a missing column is an error naming it.
func TestAccuracyGroupBy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p, err := params.Parse(accuracy{}.Info().Params, `{"topk": [1, 2], "group_by": ["corruption", "severity"]}`)
	if err != nil {
		t.Fatal(err)
	}
	b := batch(t, mem, handLabels, handLogits)
	defer b.Release()
	cb := array.NewDictionaryBuilder(mem, arrowio.ModelType).(*array.BinaryDictionaryBuilder)
	for _, c := range []string{"fog", "fog", "snow", "fog", "snow"} {
		cb.AppendString(c)
	}
	corr := cb.NewArray()
	cb.Release()
	defer corr.Release()
	sb := array.NewInt64Builder(mem)
	sb.AppendValues([]int64{3, 3, 1, 1, 1}, nil)
	sev := sb.NewArray()
	sb.Release()
	defer sev.Release()
	with, _ := arrowio.SetColumn(b, arrow.Field{Name: "corruption", Type: arrowio.ModelType}, corr)
	defer with.Release()
	grouped, _ := arrowio.SetColumn(with, arrow.Field{Name: "severity", Type: arrow.PrimitiveTypes.Int64}, sev)
	defer grouped.Release()

	m := accuracy{}
	rows := metrictest.Mergeable(t, m, map[string]any{"topk": []any{1.0, 2.0}, "group_by": []any{"corruption", "severity"}}, sdk.Model{}, grouped)
	// Ranks 0, 1, 3, 2 (and an unlabelled sample): fog/3 holds ranks 0 and 1, snow/1 rank 3, fog/1 rank 2.
	want := []sdk.Row{{Metric: "top1", Value: 0.25, N: 4}, {Metric: "top2", Value: 0.5, N: 4},
		{Metric: "top1", Group: "corruption=fog,severity=1", Value: 0, N: 1}, {Metric: "top2", Group: "corruption=fog,severity=1", Value: 0, N: 1},
		{Metric: "top1", Group: "corruption=fog,severity=3", Value: 0.5, N: 2}, {Metric: "top2", Group: "corruption=fog,severity=3", Value: 1, N: 2},
		{Metric: "top1", Group: "corruption=snow,severity=1", Value: 0, N: 1}, {Metric: "top2", Group: "corruption=snow,severity=1", Value: 0, N: 1},
		{Metric: "unlabelled", Value: 1, N: 1}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %+v\nwant %+v", rows, want)
	}
	s, _ := m.Init(p, sdk.Model{})
	if _, err := m.Accumulate(p, sdk.Model{}, s, b); err == nil || !strings.Contains(err.Error(), `no column "corruption"`) {
		t.Errorf("group_by a missing column: %v", err)
	}
}
