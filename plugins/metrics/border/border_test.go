package main

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/params"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// deltaBatch builds n rows of δ [3,h,w] with value f(row, c, y, x).
func deltaBatch(t *testing.T, mem memory.Allocator, n, h, w int, f func(i, c, y, x int) float32) arrow.RecordBatch {
	t.Helper()
	vals := make([]float32, 0, n*3*h*w)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					vals = append(vals, f(i, c, y, x))
				}
			}
		}
	}
	d, err := arrowio.NewTensorArray(mem, []int{3, h, w}, vals)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	ib := array.NewStringBuilder(mem)
	defer ib.Release()
	for i := 0; i < n; i++ {
		ib.Append(fmt.Sprintf("img-%d", i))
	}
	ids := ib.NewArray()
	defer ids.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: arrowio.ColSampleID, Type: arrow.BinaryTypes.String}, {Name: "delta", Type: d.DataType()}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{ids, d}, int64(n))
}

func values(t *testing.T, raw string) params.Values {
	t.Helper()
	v, err := params.Parse(border{}.Info().Params, raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func find(rows []sdk.Row, metric, group string) float64 {
	for _, r := range rows {
		if r.Metric == metric && r.Group == group {
			return r.Value
		}
	}
	return math.NaN()
}

// TestKnownAnswer: on 10×12 images whose δ is 0.04 (max over channels; the other channels are
// smaller, one negative) on the 1-pixel border and 0.01 inside, the ratios and means are counted
// by hand: the k-ring of a 10×12 image leaves a (10−2k)×(12−2k) interior.
func TestKnownAnswer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const h, w = 10, 12
	f := func(i, c, y, x int) float32 {
		v := float32(0.01)
		if y == 0 || x == 0 || y == h-1 || x == w-1 {
			v = 0.04
		}
		switch c {
		case 0:
			return -v // |δ| counts
		case 1:
			return v / 2
		}
		return v / 4
	}
	batch := deltaBatch(t, mem, 3, h, w, f)
	defer batch.Release()
	p := values(t, `{"cells": 2}`)
	s, err := border{}.Accumulate(p, sdk.Model{}, state{}, batch)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := border{}.Report(p, sdk.Model{}, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		metric, group string
		want          float64
	}{
		{"border_ratio", "k=1", 4},
		{"border_ratio", "k=2", (40*0.04 + 32*0.01) / 72 / 0.01},  // ring of 72: the border and 32 inner pixels
		{"border_ratio", "k=4", (40*0.04 + 72*0.01) / 112 / 0.01}, // interior 2×4
		{"delta_mean", "", (40*0.04 + 80*0.01) / 120},
		{"delta_heatmap", "y=00,x=00", (10*0.04 + 20*0.01) / 30}, // the 5×6 corner block holds 10 border pixels
	} {
		if got := find(rows, tc.metric, tc.group); math.Abs(got-tc.want) > 1e-6*math.Max(1, tc.want) { // δ is float32
			t.Errorf("%s %s = %g, want %g", tc.metric, tc.group, got, tc.want)
		}
	}
}

// TestMergeIsOnePass: two shards accumulated apart and merged give the one-pass state exactly,
// through the plugin process.
func TestMergeIsOnePass(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := func(i, c, y, x int) float32 { return float32(math.Sin(float64(i*7+c*3+y*11+x))) * 0.03 }
	whole := deltaBatch(t, mem, 5, 8, 8, f)
	defer whole.Release()
	p := values(t, `{}`)
	one, err := border{}.Accumulate(p, sdk.Model{}, state{}, whole)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := border{}.Report(p, sdk.Model{}, one)

	ctx := context.Background()
	mp := testenv.StartMetric(t, "plugins/metrics/border", "border", mem)
	m := mp.Bind(`{}`, sdk.Model{Name: "m"})
	var states [][]byte
	for _, cut := range [][2]int{{0, 2}, {2, 5}} {
		part := deltaBatch(t, mem, cut[1]-cut[0], 8, 8, func(i, c, y, x int) float32 { return f(i+cut[0], c, y, x) })
		st, err := m.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, samples, err := m.Accumulate(ctx, st, part)
		part.Release()
		if err != nil {
			t.Fatal(err)
		}
		if samples != nil {
			samples.Release()
		}
		states = append(states, st)
	}
	merged, err := m.Merge(ctx, states)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Report(ctx, merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows from the process, %d in process", len(got), len(want))
	}
	for i := range want {
		if got[i].Metric != want[i].Metric || got[i].Group != want[i].Group || !(got[i].Value == want[i].Value || math.IsNaN(got[i].Value) && math.IsNaN(want[i].Value)) || got[i].N != want[i].N {
			t.Fatalf("row %d: process %+v, one pass %+v", i, got[i], want[i])
		}
	}
}
