package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/plugins/host"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// TestPluginProcess runs the built plugin binary through the host: two shards of the hand-made
// samples are accumulated separately, merged and reported, and must give the known answers.
func TestPluginProcess(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cat := testenv.Catalog(t, "plugins/metrics/shapebias")
	e, ok := cat.Lookup(sdk.KindMetric, "shapebias")
	if !ok {
		t.Fatal("shapebias plugin not discovered")
	}
	if got := e.Info.Requires; !reflect.DeepEqual(got, []string{"shape_label", "texture_label", "logits"}) {
		t.Fatalf("Requires = %v", got)
	}
	mp, err := host.StartMetric(e, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	m := mp.Bind(`{"mapping": "auto"}`, imagenetModel)

	var states [][]byte
	var verdicts []verdict
	for _, shard := range [][]sample{handSamples[:2], handSamples[2:]} {
		batch := newBatch(t, mem, 1000, shard)
		st, err := m.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, rows, err := m.Accumulate(ctx, st, batch)
		batch.Release()
		if err != nil {
			t.Fatal(err)
		}
		if rows == nil {
			t.Fatal("no per-sample rows came back")
		}
		verdicts = append(verdicts, sampleVerdicts(t, rows)...)
		rows.Release()
		states = append(states, st)
	}
	if !reflect.DeepEqual(verdicts, handSampleRows) {
		t.Fatalf("per-sample verdicts = %v, want %v", verdicts, handSampleRows)
	}
	merged, err := m.Merge(ctx, states)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := m.Report(ctx, merged)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, handRows) {
		t.Fatalf("rows:\n%v\nwant\n%v", rows, handRows)
	}

	bad := imagenetModel
	bad.DatasetClasses = append([]string{"apple"}, sixteen...)
	_, err = mp.Bind(`{}`, bad).Init(ctx)
	checkError(t, err, `"apple"`) // a dataset category outside the mapping
}
