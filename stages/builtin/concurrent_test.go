package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/arrowio/pqfile"
	"github.com/vistudy/vistudy/internal/testenv"
	"github.com/vistudy/vistudy/pipeline"
)

// delayCopy is a model-free transform kind defined outside pipeline/: images in, the same images
// out, each batch after a random pause, up to `streams` batches at once (pipeline.Concurrent),
// failing at batch `fail_at` when it is set. It puts the executor's concurrent applying to the test.
type delayCopy struct{}

// delayStats are what the runners saw: calls, batches applied at once now and at most.
var delayStats struct{ calls, running, most atomic.Int32 }

func (delayCopy) Spec() pipeline.KindSpec {
	return pipeline.KindSpec{
		Name:    "delaycopy",
		Summary: "passes the images it reads on after a random pause, several batches at once",
		Flow:    pipeline.FlowTransform,
		Keys: []pipeline.Key{pipeline.KeyInput,
			{Name: "streams", Type: "integer", Default: "1", Doc: "batches applied at once"},
			{Name: "fail_at", Type: "integer", Default: "0 (never)", Doc: "the call that fails, counted from 1"}},
		Reads:    []pipeline.Data{pipeline.Images},
		Produces: pipeline.Images,
	}
}

func (delayCopy) Check(*pipeline.Check, *pipeline.Stage) {}

func (delayCopy) Expand(x *pipeline.Expansion, st *pipeline.Stage) ([]*pipeline.Instance, error) {
	var out []*pipeline.Instance
	for _, src := range x.Of(st.Input) {
		out = append(out, pipeline.Follow(st, src, nil))
	}
	return out, nil
}

func (delayCopy) Start(_ context.Context, _ *pipeline.Env, in *pipeline.Instance) (any, error) {
	streams, _ := in.Stage.Extra["streams"].(float64)
	failAt, _ := in.Stage.Extra["fail_at"].(float64)
	return delayer{streams: int(streams), failAt: int32(failAt)}, nil
}

type delayer struct {
	streams int
	failAt  int32
}

func (d delayer) Concurrency() int { return d.streams }

func (d delayer) Apply(ctx context.Context, rec arrow.RecordBatch, _ uint64) (arrow.RecordBatch, error) {
	call := delayStats.calls.Add(1)
	now := delayStats.running.Add(1)
	defer delayStats.running.Add(-1)
	for {
		most := delayStats.most.Load()
		if now <= most || delayStats.most.CompareAndSwap(most, now) {
			break
		}
	}
	select { // later batches often finish first
	case <-time.After(time.Duration(5+rand.IntN(30)) * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call == d.failAt {
		return nil, errors.New("delaycopy: the failing call")
	}
	rec.Retain()
	return rec, nil
}

func init() { pipeline.Register(delayCopy{}) }

// concurrentStudy writes a study: the colour world's images in batches of 2 through delaycopy
// (its output saved), then the pixel means of what it passed on.
func concurrentStudy(t *testing.T, w *testenv.ColourWorld, output string, streams, failAt int) string {
	return colourStudy(t, w, output, "execution: {batch_size: 2, unit_size: 8, workers: 2}", fmt.Sprintf(`  - id: delayed
    delaycopy: {input: images, streams: %d, fail_at: %d}
    save: true
  - id: means
    pixelmean: {input: delayed, scale: 255}
`, streams, failAt))
}

// savedIDs reads the sample ids of the saved delaycopy tables in unit order, rows as written.
func savedIDs(t *testing.T, run string) []string {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(run, "tables", "delayed", "*", "part-*.parquet"))
	if err != nil || len(parts) < 2 {
		t.Fatalf("delaycopy parts %v (%v), want one per unit", parts, err)
	}
	slices.Sort(parts)
	var ids []string
	for _, p := range parts {
		rec, err := pqfile.ReadParquet(p, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		col, err := arrowio.StringColumn(rec, arrowio.ColSampleID)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, col...)
		rec.Release()
	}
	return ids
}

// TestConcurrentTransform runs a transform that applies 3 batches at once with random pauses
// against the same transform one batch at a time: 3 batches were in it at once (never more), its
// output reached the table and the next stage in sample order, and the results are byte-identical.
// A failing batch stops the run with its error and leaves no batch unreleased.
func TestConcurrentTransform(t *testing.T) {
	w := testenv.NewColourWorld(t)
	run := func(name string, streams, failAt int) (string, int32, error) {
		delayStats.calls.Store(0)
		delayStats.most.Store(0)
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		out := filepath.Join(t.TempDir(), name)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a stuck executor fails, not hangs
		defer cancel()
		err := pipeline.Run(ctx, newPlan(t, concurrentStudy(t, w, out, streams, failAt)), pipeline.Options{Mem: mem})
		return out, delayStats.most.Load(), err
	}
	serial, most, err := run("serial", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if most != 1 {
		t.Errorf("one stream: %d batches applied at once", most)
	}
	concurrent, most, err := run("concurrent", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if most != 3 {
		t.Errorf("three streams: at most %d batches applied at once, want 3", most)
	}
	ids := savedIDs(t, serial)
	if len(ids) < 16 || !slices.IsSorted(ids) {
		t.Fatalf("one stream wrote %d ids %v, want the world's images in sample order", len(ids), ids)
	}
	if got := savedIDs(t, concurrent); !slices.Equal(got, ids) {
		t.Errorf("three streams wrote the ids in the order %v, want %v", got, ids)
	}
	a, _ := os.ReadFile(filepath.Join(serial, pipeline.ResultsFile))
	b, _ := os.ReadFile(filepath.Join(concurrent, pipeline.ResultsFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("results.parquet differs between one and three streams (%d and %d bytes)", len(a), len(b))
	}
	if _, _, err := run("failing", 3, 4); err == nil || !strings.Contains(err.Error(), "the failing call") {
		t.Errorf("a failing batch: run error %v", err)
	}
}
