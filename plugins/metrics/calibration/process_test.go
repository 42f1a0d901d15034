package main

import (
	"context"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// TestPluginProcess runs the built plugin binary through the host: the hand example in two shards,
// accumulated separately, merged and reported, gives the in-process one-pass rows.
func TestPluginProcess(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	mp := testenv.StartMetric(t, "plugins/metrics/calibration", "calibration", mem)
	m := mp.Bind(`{"bins": 5}`, sdk.Model{Name: "two-class", NumClasses: 2})

	whole := newBatch(t, mem, 2, handLabels, handLogits)
	defer whole.Release()
	_, onePass := run(t, mustParams(t, `{"bins": 5}`), whole)

	var states [][]byte
	for _, cut := range [][2]int{{0, 2}, {2, 6}} {
		batch := newBatch(t, mem, 2, handLabels[cut[0]:cut[1]], handLogits[2*cut[0]:2*cut[1]])
		st, err := m.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, samples, err := m.Accumulate(ctx, st, batch)
		batch.Release()
		if err != nil {
			t.Fatal(err)
		}
		if samples != nil {
			samples.Release()
			t.Fatal("calibration emits no per-sample rows, yet some came back")
		}
		states = append(states, st)
	}
	merged, err := m.Merge(ctx, states)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := m.Report(ctx, merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(onePass) {
		t.Fatalf("%d rows from the plugin, %d in process", len(rows), len(onePass))
	}
	for i, r := range rows {
		w := onePass[i]
		if r.Metric != w.Metric || r.Group != w.Group || r.N != w.N || math.Abs(r.Value-w.Value) > 1e-15*math.Abs(w.Value) {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	checkRows(t, rows, map[string]want{"ece|": {0.24, 5}, "mce|": {0.4, 5}, "overconfidence|": {0.725, 2}, "unlabelled|": {1, 1}})

	if _, err := mp.Bind(`{"bins": 1}`, sdk.Model{}).Init(ctx); err == nil {
		t.Fatal("bins = 1 was accepted by the plugin")
	}
}
