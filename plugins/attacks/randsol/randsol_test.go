package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/vistudy/vistudy/arrowio"
	"github.com/vistudy/vistudy/plugins/attacks/attacktest"
	"github.com/vistudy/vistudy/plugins/sdk"
)

// brightness is the toy model: the logits of classes 0..2 are the mean of the R, G and B
// channels, class 3 always scores −1, so a sample labelled 3 is never correct.
var brightness = attacktest.Model(func(image []float32) []float32 {
	n := len(image) / 3
	out := []float32{0, 0, 0, -1}
	for c := 0; c < 3; c++ {
		s := float32(0)
		for _, v := range image[c*n : (c+1)*n] {
			s += v
		}
		out[c] = s / float32(n)
	}
	return out
})

// channels are the constant channel values of each test row; label is the row's label.
var rows = []struct {
	rgb   [3]float32
	label int32
}{
	// R=.9 G=.5 B=.1 labelled R: solarized at t, R becomes 0.1 unless t > 0.9 (then G wins), and
	// with t ≤ 0.1 B becomes 0.9. Top-1 correct iff float32(t) > 0.9; top-2 correct iff t > 0.1.
	{[3]float32{0.9, 0.5, 0.1}, 0},
	// G=.5 alone: always correct for t > 0, so it is redrawn every round.
	{[3]float32{0, 0.5, 0}, 1},
	// Labelled 3: never correct, broken after its first threshold.
	{[3]float32{0.2, 0.3, 0.4}, 3},
	// Unlabelled: left alone.
	{[3]float32{0.6, 0.6, 0.6}, -1},
	// The first row again, with its own random stream.
	{[3]float32{0.9, 0.5, 0.1}, 0},
}

// correct is the known answer of the toy model for row r solarized at t, for top-k.
func correct(r int, t float64, k int) bool {
	switch rows[r].label {
	case 0:
		if k == 1 {
			return float32(t) > 0.9
		}
		return float32(t) > 0.1
	case 1:
		return t > 0
	}
	return false
}

// expected replays the documented random stream (PCG seeded with (seed, row), one Float64 per
// round) against the known answers: final threshold, thresholds drawn, broken.
func expected(seed uint64, r, iterations, k int) (float64, int32, bool) {
	rng := rand.New(rand.NewPCG(seed, 0))
	var t float64
	for round := 1; round <= iterations; round++ {
		t = rng.Float64()
		if !correct(r, t, k) {
			return t, int32(round), true
		}
	}
	return t, int32(iterations), false
}

func toyBatch(t *testing.T, mem memory.Allocator) arrow.RecordBatch {
	labels := make([]int32, len(rows))
	for i, r := range rows {
		labels[i] = r.label
	}
	const h, w = 2, 3
	return attacktest.Batch(t, mem, []int{3, h, w}, labels, func(i, j int) float32 { return rows[i].rgb[j/(h*w)] })
}

// countingOracle serves the toy model to the plugin process and records how many images each
// oracle call carried.
type countingOracle struct {
	mu    sync.Mutex
	calls []int
}

func (o *countingOracle) predict(mem memory.Allocator) func(context.Context, arrow.RecordBatch) (arrow.RecordBatch, error) {
	inner := brightness.Predict(mem)
	return func(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
		o.mu.Lock()
		o.calls = append(o.calls, int(b.NumRows()))
		o.mu.Unlock()
		return inner(ctx, b)
	}
}

func (o *countingOracle) take() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.calls
	o.calls = nil
	return c
}

func TestRandSolThroughTheBroker(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	oracle := &countingOracle{}
	pt, e := attacktest.Start(t, "plugins/attacks/randsol", sdk.Model{Name: "toy", NumClasses: 4}, oracle.predict(mem), mem)
	if !e.Info.NeedsModel || e.Info.PrimaryParam != paramIterations {
		t.Errorf("info: needs model %v, primary %q", e.Info.NeedsModel, e.Info.PrimaryParam)
	}
	batch := toyBatch(t, mem)
	defer batch.Release()
	in := attacktest.Images(t, batch)
	size := len(in) / len(rows)
	for _, tc := range []struct {
		seed             uint64
		iterations, topk int
	}{{1, 10, 1}, {2, 10, 1}, {3, 3, 1}, {4, 10, 2}, {5, 1, 1}, {6, 40, 1}} {
		raw := map[string]any{"iterations": tc.iterations, "topk": tc.topk}
		out, err := pt.Apply(t.Context(), attacktest.ParamsJSON(raw), batch, tc.seed)
		if err != nil {
			t.Fatal(err)
		}
		thr := out.Column(out.Schema().FieldIndices(colThreshold)[0]).(*array.Float64)
		used, _ := arrowio.Int32Column(out, colIterationsUsed)
		broken := out.Column(out.Schema().FieldIndices(colBroken)[0]).(*array.Boolean)
		got := attacktest.Images(t, out)
		// Round r evaluates exactly the rows still correct after round r−1.
		var wantCalls []int
		for r := range rows {
			if rows[r].label < 0 {
				if !thr.IsNull(r) || used[r] != 0 || !broken.IsNull(r) || !slices.Equal(got[r*size:(r+1)*size], in[r*size:(r+1)*size]) {
					t.Errorf("seed %d: unlabelled row %d was touched (threshold null %v, used %d)", tc.seed, r, thr.IsNull(r), used[r])
				}
				continue
			}
			wt, wu, wb := expected(sdk.RowSeeds(tc.seed, batch)[r], r, tc.iterations, tc.topk)
			if thr.Value(r) != wt || used[r] != wu || broken.Value(r) != wb {
				t.Errorf("seed %d %v row %d: threshold %v used %d broken %v, want %v %d %v",
					tc.seed, raw, r, thr.Value(r), used[r], broken.Value(r), wt, wu, wb)
			}
			for round := 1; round <= int(wu); round++ {
				for len(wantCalls) < round {
					wantCalls = append(wantCalls, 0)
				}
				wantCalls[round-1]++
			}
			for j := 0; j < size; j++ {
				x := in[r*size+j]
				want := x
				if x >= float32(wt) {
					want = 1 - x
				}
				if got[r*size+j] != want {
					t.Fatalf("seed %d row %d: value %d = %v, want solarize(%v, %v) = %v", tc.seed, r, j, got[r*size+j], x, wt, want)
				}
			}
		}
		if calls := oracle.take(); !slices.Equal(calls, wantCalls) {
			t.Errorf("seed %d %v: oracle calls carried %v images, want %v", tc.seed, raw, calls, wantCalls)
		}
		out.Release()
	}
}

func TestRandSolIsDeterministicForASeed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := toyBatch(t, mem)
	defer batch.Release()
	env := func(seed uint64) *sdk.Env { return &sdk.Env{Seed: seed, Oracle: brightness.Oracle(), Mem: mem} }
	raw := map[string]any{"iterations": 10}
	a := attacktest.Apply(t, randsol{}, raw, batch, env(42))
	defer a.Release()
	b := attacktest.Apply(t, randsol{}, raw, batch, env(42))
	defer b.Release()
	c := attacktest.Apply(t, randsol{}, raw, batch, env(43))
	defer c.Release()
	if !array.RecordEqual(a, b) {
		t.Error("two runs with seed 42 differ")
	}
	ta := a.Column(a.Schema().FieldIndices(colThreshold)[0]).(*array.Float64)
	tc := c.Column(c.Schema().FieldIndices(colThreshold)[0]).(*array.Float64)
	if ta.Value(1) == tc.Value(1) {
		t.Errorf("seeds 42 and 43 gave row 1 the same threshold %v", ta.Value(1))
	}
}

func TestRandSolRejectsBadInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := toyBatch(t, mem)
	defer batch.Release()
	env := &sdk.Env{Seed: 1, Oracle: brightness.Oracle(), Mem: mem}
	for _, raw := range []map[string]any{{"iterations": 0}, {"topk": 0}, {"iterations": 2.5}} {
		if out, err := attacktest.TryApply(randsol{}, raw, batch, env); err == nil {
			out.Release()
			t.Errorf("parameters %v were accepted", raw)
		}
	}
	// A label beyond the model's classes is a label-space mismatch, not a broken sample.
	wide := attacktest.Batch(t, mem, []int{3, 1, 1}, []int32{7}, func(int, int) float32 { return 0.5 })
	defer wide.Release()
	if out, err := attacktest.TryApply(randsol{}, map[string]any{}, wide, env); err == nil {
		out.Release()
		t.Error("label 7 for a 4-class model was accepted")
	}
}

func TestRandSolLargeBatchCrossesTheBoundary(t *testing.T) {
	// 40 images of 3×224×224 float32 (about 24 MiB) go to the plugin, back to the host's oracle
	// in the first round, and back again as the result: every hop is over gRPC's 4 MiB default.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	oracle := &countingOracle{}
	pt, _ := attacktest.Start(t, "plugins/attacks/randsol", sdk.Model{Name: "toy", NumClasses: 4}, oracle.predict(mem), mem)
	batch := attacktest.Random(t, mem, 40, []int{3, 224, 224}, 3, 4)
	defer batch.Release()
	raw := map[string]any{"iterations": 3}
	out := attacktest.SameAsInProcess(t, pt, randsol{}, raw, batch, &sdk.Env{Seed: 9, Oracle: brightness.Oracle(), Mem: mem})
	defer out.Release()
	if calls := oracle.take(); len(calls) == 0 || calls[0] != 40 {
		t.Errorf("the first oracle call carried %v images, want all 40", calls)
	}
	if out.NumCols() != batch.NumCols()+3 {
		t.Errorf("result has columns %s", out.Schema())
	}
}
